//! The cloud, simulated end to end with real parts: the real `bootstrap`
//! binaries of functions/ run behind a Lambda Runtime API server on
//! 127.0.0.1, talking to moto (DynamoDB, SQS, SSM) and to the fake GitHub;
//! the repo's own ASL interpreter drives statemachines/pipeline.asl.json by
//! invoking them, and the test plays the SQS event source mapping.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use repowatch_asl::{ExecutionOptions, StateMachine, TaskContext, TaskFailure, TaskInvoker};
use repowatch_aws::DynamoTable;
use repowatch_aws::moto::Moto;
use repowatch_core::rules::WatchRules;
use repowatch_core::{Datasource, DatasourceId, Location, RepoSlug, TargetId, TargetSpec, functions};
use repowatch_github_fake::{FakeGithub, FakeOptions, RepoSpec, sha};
use repowatch_tests::lambda_sim::{ARN_PREFIX, SimLambda, bootstrap};
use serde_json::{Value, json};

use crate::support::workspace_root;

const TOKEN: &str = "ghp_canary_cloud_5e6f";
const WEBHOOK_SECRET: &str = "canary-cloud-webhook-9d0c";

struct Cloud {
    lambdas: HashMap<&'static str, SimLambda>,
}

#[async_trait]
impl TaskInvoker for Cloud {
    async fn invoke(&self, resource: &str, input: Value, _ctx: TaskContext<'_>) -> Result<Value, TaskFailure> {
        let name = resource.strip_prefix(ARN_PREFIX).unwrap_or(resource);
        let Some(lambda) = self.lambdas.get(name) else {
            return Err(TaskFailure { error: "Lambda.ResourceNotFoundException".into(), cause: Some(resource.into()) });
        };
        lambda.invoke(input).await.map_err(|(error, cause)| TaskFailure { error, cause: Some(cause) })
    }
}

fn pipeline() -> StateMachine {
    let raw: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("statemachines/pipeline.asl.json")).unwrap(),
    )
    .unwrap();
    let subs: BTreeMap<String, String> =
        functions::ALL.iter().map(|f| (f.substitution_key(), format!("{ARN_PREFIX}{}", f.name))).collect();
    StateMachine::from_value(&repowatch_asl::substitute(&raw, &subs)).unwrap()
}

async fn run_pipeline(cloud: &Cloud, machine: &StateMachine, name: &str) -> Value {
    let options = ExecutionOptions { name: name.into(), state_machine_name: "pipeline".into(), ..Default::default() };
    let execution =
        repowatch_asl::execute(machine, json!({"source": "schedule"}), cloud, &repowatch_asl::SystemClock, options)
            .await;
    execution
        .output
        .clone()
        .unwrap_or_else(|| panic!("the execution failed: {:?} {:?}", execution.error, execution.cause))
}

/// Receives what the queue holds, as the SQS event source mapping hands it to dispatch-build.
async fn receive_batch(sqs: &aws_sdk_sqs::Client, queue: &str) -> (Value, Vec<(String, String)>) {
    let got = sqs
        .receive_message()
        .queue_url(queue)
        .max_number_of_messages(10)
        // Visible again at once unless deleted, so the test sees what the mapping would leave.
        .visibility_timeout(0)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    let mut records = Vec::new();
    let mut handles = Vec::new();
    for m in got {
        let count = m
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount))
            .cloned()
            .unwrap_or_else(|| "1".into());
        records.push(json!({
            "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
            "attributes": { "ApproximateReceiveCount": count }, "messageAttributes": {},
            "eventSource": "aws:sqs", "awsRegion": "us-east-1",
        }));
        handles.push((m.message_id().unwrap().to_owned(), m.receipt_handle().unwrap().to_owned()));
    }
    (json!({ "Records": records }), handles)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_is_detected_enqueued_and_dispatched_once_by_the_real_bootstraps() {
    let Some(moto) = Moto::for_test() else { return };
    let sdk = moto.sdk_config().await;
    moto.create_table(&sdk, "repowatch").await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs.create_queue().queue_name("builds").send().await.unwrap().queue_url.unwrap();
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    ssm.put_parameter()
        .name("/repowatch/github-token")
        .value(TOKEN)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();

    let github = FakeGithub::start(FakeOptions { token: TOKEN.into(), ..Default::default() }).await.unwrap();
    github.add_repo("octo/api", RepoSpec::default()).unwrap();
    github.set_branch("octo/api", "main", &sha("c1")).unwrap();

    // `repowatch sync`'s work: the catalog in the table.
    let table = DynamoTable::new(aws_sdk_dynamodb::Client::new(&sdk), "repowatch");
    let ds = Datasource {
        id: DatasourceId::parse("api").unwrap(),
        location: Location::Github(RepoSlug::parse("octo/api").unwrap()),
        watch: WatchRules::parse(&["branch:main"]).unwrap(),
        paths: None,
        cooldown: Duration::ZERO,
        targets: vec![TargetId::parse("rd").unwrap()],
        build_on_first_seen: false,
    };
    let target =
        TargetSpec::RepositoryDispatch { repo: RepoSlug::parse("octo/api").unwrap(), event_type: "build".into() };
    table.sync_catalog(&[ds], &BTreeMap::from([(TargetId::parse("rd").unwrap(), target)])).await.unwrap();
    // ... and the [[notify]] channel, its URL (a credential) in SSM.
    let (channel_url, channel) = crate::support::notify_recorder().await;
    ssm.put_parameter()
        .name("/repowatch/notify/discord-url")
        .value(&channel_url)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let spec: repowatch_notify::NotifySpec = serde_json::from_value(json!({
        "language": "en", "timezone": "Asia/Tokyo",
        "channels": [{ "kind": "discord", "url": "ssm:/repowatch/notify/discord-url", "on": ["summary", "failure", "alarm", "build"] }],
    }))
    .unwrap();
    table.sync_notify(Some(&spec)).await.unwrap();

    let env = repowatch_tests::lambda_sim::cloud_env(&moto.url, &queue, github.url(), "warn");
    let mut lambdas = HashMap::new();
    for f in functions::ALL {
        if f.name == "github-webhook" {
            continue; // behind a Function URL, not in the pipeline: started further down
        }
        lambdas.insert(f.name, SimLambda::start(f.name, &bootstrap(f.name), &env).await);
    }
    for l in lambdas.values() {
        let took = l.cold_start().await;
        eprintln!("cold start {}: {took:?}", l.name);
    }
    let cloud = Cloud { lambdas };
    let machine = pipeline();

    // First run: the baseline, nothing queued.
    let summary = run_pipeline(&cloud, &machine, "run-1").await;
    assert_eq!(summary["status"], "ok", "{summary:#}");
    assert_eq!(summary["totals"]["builds_queued"], 0, "{summary:#}");

    // A push: the next run detects it and queues one build.
    github.set_branch("octo/api", "main", &sha("c2")).unwrap();
    let summary = run_pipeline(&cloud, &machine, "run-2").await;
    assert_eq!(summary["totals"]["builds_queued"], 1, "{summary:#}");

    // The event source mapping delivers it; dispatch-build dispatches it.
    let dispatch = &cloud.lambdas["dispatch-build"];
    let (event, handles) = receive_batch(&sqs, &queue).await;
    assert_eq!(handles.len(), 1);
    let answer = dispatch.invoke(event.clone()).await.unwrap();
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
    assert_eq!(github.dispatches().len(), 1);
    assert_eq!(github.dispatches()[0].body["client_payload"]["commit"], sha("c2"));

    // SQS delivers the same message again (at-least-once): nothing is dispatched twice.
    let answer = dispatch.invoke(event.clone()).await.unwrap();
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
    assert_eq!(github.dispatches().len(), 1, "a redelivered message does not dispatch twice");
    // No failures reported: the event source mapping deletes the batch.
    for (_, handle) in &handles {
        sqs.delete_message().queue_url(&queue).receipt_handle(handle).send().await.unwrap();
    }

    // A malformed body is reported, never dropped with the batch.
    let mut bad = event.clone();
    bad["Records"][0]["body"] = json!("{not json");
    bad["Records"][0]["messageId"] = json!("m-bad");
    let answer = dispatch.invoke(bad).await.unwrap();
    assert_eq!(answer, json!({ "batchItemFailures": [{ "itemIdentifier": "m-bad" }] }));

    // notify takes CloudWatch alarms from SNS too: a metric-math alarm with a
    // null description, and a message that is not an alarm at all, are both
    // taken (not failed, which would only retry them into the failure queue).
    let math_alarm = json!({
        "AlarmName": "repowatch-dev-PipelineErrorRateAlarm", "AlarmDescription": null, "NewStateValue": "ALARM",
        "Region": "Asia Pacific (Tokyo)", "Trigger": { "Metrics": [{ "Id": "rate", "Expression": "100 * (e1) / MAX([i1, 1])" }] },
    });
    for message in [math_alarm.to_string(), "not json at all".to_owned()] {
        let event =
            json!({ "Records": [{ "EventSource": "aws:sns", "Sns": { "Message": message, "Subject": null } }] });
        let answer = cloud.lambdas["notify"].invoke(event).await;
        assert!(answer.is_ok(), "{answer:?}");
    }
    // The channel heard both runs that did something, the one dispatch (not the
    // redelivery) and both SNS messages, in English.
    let titles: Vec<String> = channel
        .lock()
        .unwrap()
        .iter()
        .map(|b| b["embeds"][0]["title"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        titles,
        [
            "ℹ️ Run finished: 0 changed, 0 build(s) queued",
            "ℹ️ Run finished: 1 changed, 1 build(s) queued",
            "ℹ️ Build dispatched: api main",
            "🚨 ALARM: repowatch-dev-PipelineErrorRateAlarm",
            "⚠️ Unrecognised message on the alarm topic",
        ]
    );
    let alarm = channel.lock().unwrap()[3].to_string();
    assert!(alarm.contains("100 * (e1) / MAX([i1, 1])") && alarm.contains("Asia Pacific (Tokyo)"), "{alarm}");

    // A step error reaches Step Functions with the name Retry/Catch match.
    let (kind, message) = cloud.lambdas["detect-updates"].invoke(json!({"nonsense": true})).await.unwrap_err();
    assert_eq!(kind, "Repowatch.InvalidInput", "{message}");

    // The third run finds nothing new.
    // github-webhook behind its Function URL: a signed push starts one execution
    // named after the delivery; the same delivery again starts none; a body over
    // the Function URL limit is refused before anything is read.
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let state_machine = sfn
        .create_state_machine()
        .name("repowatch-pipeline")
        .definition(r#"{"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}"#)
        .role_arn("arn:aws:iam::123456789012:role/repowatch-pipeline")
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    ssm.put_parameter()
        .name("/repowatch/webhook-secret")
        .value(WEBHOOK_SECRET)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let mut webhook_env = env.clone();
    webhook_env.insert("REPOWATCH_WEBHOOK_SECRET_PARAMETER".into(), "/repowatch/webhook-secret".into());
    webhook_env.insert("REPOWATCH_STATE_MACHINE_ARN".into(), state_machine.clone());
    let webhook = SimLambda::start("github-webhook", &bootstrap("github-webhook"), &webhook_env).await;
    let push =
        json!({"ref": "refs/heads/main", "after": sha("c3"), "repository": {"full_name": "octo/api"}}).to_string();
    let signature =
        repowatch_core::signature::sign(&repowatch_core::secret::SecretString::new(WEBHOOK_SECRET), push.as_bytes());
    let url_event = |body: &str, delivery: &str| {
        json!({
            "version": "2.0", "rawPath": "/", "isBase64Encoded": false, "body": body,
            "headers": { "x-github-event": "push", "x-github-delivery": delivery, "x-hub-signature-256": signature, "content-type": "application/json" },
            "requestContext": { "http": { "method": "POST" } },
        })
    };
    for attempt in 0..2 {
        let answer = webhook.invoke(url_event(&push, "d-7")).await.unwrap();
        assert_eq!(answer["statusCode"], if attempt == 0 { 202 } else { 200 }, "{answer:#}");
    }
    let executions = sfn.list_executions().state_machine_arn(&state_machine).send().await.unwrap().executions;
    let names: Vec<&str> = executions.iter().map(|e| e.name()).collect();
    assert_eq!(names, vec!["gh-d-7-api"], "one execution, named by delivery and datasource");
    let huge = "x".repeat(repowatch_aws::lambda::MAX_WEBHOOK_BODY + 1);
    let answer = webhook.invoke(url_event(&huge, "d-8")).await.unwrap();
    assert_eq!(answer["statusCode"], 413);
    let forged = webhook
        .invoke(json!({"headers": {"x-github-event": "push", "x-github-delivery": "d-9"}, "body": push}))
        .await
        .unwrap();
    assert_eq!((forged["statusCode"].as_u64(), forged["body"].as_str()), (Some(401), Some("\n")));

    let summary = run_pipeline(&cloud, &machine, "run-3").await;
    assert_eq!(summary["totals"]["builds_queued"], 0, "{summary:#}");
    let (_, handles) = receive_batch(&sqs, &queue).await;
    assert!(handles.is_empty(), "nothing left in the queue: {handles:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_handler_comes_back_as_an_error_and_the_sandbox_lives_on() {
    // The shipped profiles must unwind: cargo-lambda injects panic = "abort"
    // when the profile does not say, and an abort kills the sandbox.
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap()).unwrap();
    assert_eq!(manifest["profile"]["release"]["panic"].as_str(), Some("unwind"), "Cargo.toml [profile.release]");

    let lambda = SimLambda::start(
        "panicking-function",
        std::path::Path::new(env!("CARGO_BIN_EXE_panicking-function")),
        &BTreeMap::new(),
    )
    .await;
    for n in 0..3 {
        let (kind, message) = lambda
            .invoke(json!({ "panic": true, "why": format!("bug {n}") }))
            .await
            .expect_err("a panicking handler answers with an error");
        assert!(message.contains("panicked") && message.contains(&format!("bug {n}")), "{kind}: {message}");
        // The same process (SimLambda never respawns) takes the next event.
        assert_eq!(lambda.invoke(json!({ "n": n })).await, Ok(json!({ "ok": n })));
    }
}
