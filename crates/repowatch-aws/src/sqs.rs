//! The build queue on SQS. The queue's redrive policy (DLQ after 5 receives)
//! and visibility timeout are the template's; this side only sends.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use repowatch_core::{BuildQueue, BuildRequest, MessageId, PortError};

/// SQS takes at most 10 messages per SendMessageBatch.
const BATCH: usize = 10;

#[derive(Debug, Clone)]
pub struct SqsBuildQueue {
    client: Client,
    url: String,
}

impl SqsBuildQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }
}

#[async_trait]
impl BuildQueue for SqsBuildQueue {
    /// Every request, in batches of 10. A partial failure is an error: the
    /// caller then does not commit last-seen state, the next run enqueues the
    /// update again, and the idempotency key keeps the copies from building twice.
    async fn enqueue(&self, requests: &[BuildRequest]) -> Result<Vec<MessageId>, PortError> {
        let mut ids = Vec::with_capacity(requests.len());
        for chunk in requests.chunks(BATCH) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, request) in chunk.iter().enumerate() {
                let body = serde_json::to_string(request)
                    .map_err(|e| PortError::with_source("cannot encode the build request", e))?;
                let entry = SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .map_err(|e| PortError::with_source("SQS: cannot build the batch entry", e))?;
                entries.push(entry);
            }
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| PortError::new(format!("SQS: send_message_batch: {}", crate::sdk::describe(&e))))?;
            if let Some(first) = out.failed.first() {
                return Err(PortError::new(format!(
                    "SQS refused {} of {} build requests ({}: {}); the next run enqueues them again",
                    out.failed.len(),
                    chunk.len(),
                    first.code,
                    first.message.as_deref().unwrap_or("no message")
                )));
            }
            let mut sent = out.successful;
            sent.sort_by_key(|e| e.id.parse::<usize>().unwrap_or(usize::MAX));
            for entry in sent {
                ids.push(
                    MessageId::parse(entry.message_id).map_err(|e| PortError::with_source("SQS: a message id", e))?,
                );
            }
        }
        Ok(ids)
    }
}
