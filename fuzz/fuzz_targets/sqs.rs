//! dispatch-build's input: an SQS event as the Lambda runtime decodes it,
//! then each record's body as a build request. Every record is either a
//! message or an error to report (batchItemFailures); never a panic.
#![no_main]

use aws_lambda_events::event::sqs::SqsEvent;
use libfuzzer_sys::fuzz_target;
use repowatch_core::steps::QueueMessage;

fuzz_target!(|data: &[u8]| {
    // The body alone (what SQS carries).
    if let Ok(body) = std::str::from_utf8(data) {
        let _ = QueueMessage::decode_sqs_record(Some("m-1"), Some(body), Some("1"));
    }
    // The whole event.
    let Ok(event) = serde_json::from_slice::<SqsEvent>(data) else { return };
    for record in event.records {
        let decoded = QueueMessage::decode_sqs_record(
            record.message_id.as_deref(),
            record.body.as_deref(),
            record.attributes.get("ApproximateReceiveCount").map(String::as_str),
        );
        if let Ok(message) = decoded {
            // What was decoded survives the trip to the store and back.
            let json = serde_json::to_string(&message.body).unwrap();
            let again: repowatch_core::BuildRequest = serde_json::from_str(&json).unwrap();
            assert_eq!(again, message.body);
        }
    }
});
