//! The AWS adapters against moto server on 127.0.0.1 (a real AWS protocol
//! peer): DynamoDB conditional writes under races, SQS redrive to the DLQ
//! after 5 receives, SSM SecureString. moto comes from PyPI into
//! ~/.cache/repowatch/venv (scripts/test.sh); without it these tests say
//! "skipped" — unless REPOWATCH_REQUIRE_MOTO=1 (CI), which makes that a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use repowatch_aws::moto::Moto;
use repowatch_aws::{DynamoTable, SqsBuildQueue, read_parameters};
use repowatch_core::rules::WatchRules;
use repowatch_core::{
    BuildQueue, BuildRecord, BuildRequest, BuildStatus, Catalog, Claim, CommitSha, Datasource, DatasourceId,
    DetectionSource, IdempotencyKey, Location, MessageId, RefChange, RefKind, RefName, RefState, RepoSlug, RunId,
    RunLink, RunResult, StateStore, TargetId, TargetSpec,
};

async fn sdk_config(moto: &Moto) -> aws_config::SdkConfig {
    moto.sdk_config().await
}

async fn table(moto: &Moto) -> DynamoTable {
    let config = moto.sdk_config().await;
    moto.create_table(&config, "repowatch").await.unwrap();
    DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), "repowatch")
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    let name = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
    let attributes = sqs.get_queue_attributes().queue_url(url).attribute_names(name.clone()).send().await.unwrap();
    attributes.attributes.unwrap()[&name].clone()
}

fn key(c: char) -> IdempotencyKey {
    IdempotencyKey::parse(c.to_string().repeat(64)).unwrap()
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + s).unwrap()
}

#[tokio::test]
async fn two_claims_race_and_exactly_one_wins() {
    let Some(moto) = Moto::for_test() else { return };
    let t = Arc::new(table(&moto).await);
    for round in 0..10 {
        let k = key(char::from_digit(round, 10).unwrap());
        let (a, b) = tokio::join!(t.claim(&k, "worker-a", at(0), at(300)), t.claim(&k, "worker-b", at(0), at(300)));
        let outcomes = [a.unwrap(), b.unwrap()];
        let won = outcomes.iter().filter(|c| matches!(c, Claim::Acquired { .. })).count();
        assert_eq!(won, 1, "round {round}: {outcomes:?}");
        assert!(outcomes.iter().any(|c| matches!(c, Claim::Held { .. })), "{outcomes:?}");
    }
    let k = key('a');
    assert_eq!(t.claim(&k, "w1", at(0), at(60)).await.unwrap(), Claim::Acquired { taken_over: None });
    // A failed call gives it up; the retry may take it.
    t.release(&k, "w1").await.unwrap();
    assert_eq!(t.claim(&k, "w2", at(1), at(60)).await.unwrap(), Claim::Acquired { taken_over: None });
    // Past its lease, another dispatcher takes it over, and learns whose it was.
    assert_eq!(t.claim(&k, "w3", at(61), at(120)).await.unwrap(), Claim::Acquired { taken_over: Some("w2".into()) });
    // Releasing someone else's claim changes nothing.
    t.release(&k, "w2").await.unwrap();
    assert!(matches!(t.claim(&k, "w4", at(62), at(120)).await.unwrap(), Claim::Held { owner, .. } if owner == "w3"));
    t.complete(&k, "w3", at(63)).await.unwrap();
    assert_eq!(t.claim(&k, "w5", at(500), at(600)).await.unwrap(), Claim::Done { at: at(63) });
}

fn state(kind: RefKind, name: &str, c: char) -> RefState {
    RefState {
        kind,
        name: RefName::parse(name).unwrap(),
        commit: CommitSha::parse(c.to_string().repeat(40)).unwrap(),
        observed_at: at(0),
        pending: None,
    }
}

#[tokio::test]
async fn concurrent_ref_commits_all_land() {
    let Some(moto) = Moto::for_test() else { return };
    let t = Arc::new(table(&moto).await);
    let ds = DatasourceId::parse("api").unwrap();
    assert_eq!(t.load_refs(&ds).await.unwrap(), None, "never seen");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (t, ds) = (t.clone(), ds.clone());
        tasks.push(tokio::spawn(async move {
            let s = state(RefKind::Branch, &format!("refs/heads/b{i}"), 'a');
            t.commit_refs(&ds, &[RefChange::Upsert(s)], at(i)).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let refs = t.load_refs(&ds).await.unwrap().unwrap();
    assert_eq!(refs.len(), 8, "optimistic retries keep every writer's change: {refs:?}");
    t.commit_refs(
        &ds,
        &[RefChange::Delete { kind: RefKind::Branch, name: RefName::parse("refs/heads/b0").unwrap() }],
        at(9),
    )
    .await
    .unwrap();
    assert_eq!(t.load_refs(&ds).await.unwrap().unwrap().len(), 7);
}

#[tokio::test]
async fn deliveries_run_results_and_the_catalog() {
    let Some(moto) = Moto::for_test() else { return };
    let t = table(&moto).await;
    assert!(t.record_delivery("d-1", at(0)).await.unwrap());
    assert!(!t.record_delivery("d-1", at(1)).await.unwrap(), "a redelivery is seen");

    let request = BuildRequest::new(
        DatasourceId::parse("api").unwrap(),
        RefName::parse("refs/heads/main").unwrap(),
        CommitSha::parse("c".repeat(40)).unwrap(),
        RefKind::Branch,
        DetectionSource::Schedule,
        TargetId::parse("deploy").unwrap(),
        at(0),
        RunId::parse("run-1").unwrap(),
    );
    let result = |status: &str, s: i64| RunResult {
        run_id: 77,
        status: status.into(),
        conclusion: (status == "completed").then(|| "success".into()),
        url: None,
        updated_at: at(s),
    };
    assert!(!t.record_run_result(&result("queued", 1)).await.unwrap(), "no build knows run 77 yet");
    let record = BuildRecord {
        request: request.clone(),
        message_id: MessageId::parse("m-1").unwrap(),
        receive_count: 1,
        started_at: at(0),
        finished_at: at(1),
        status: BuildStatus::Succeeded,
        detail: "workflow run 77".into(),
        exit_code: None,
        output: None,
        run: Some(RunLink { id: 77, url: "https://github.com/o/r/actions/runs/77".into() }),
        result: None,
        took_over_from: None,
    };
    t.record_build(&record).await.unwrap();
    assert!(t.record_run_result(&result("completed", 3)).await.unwrap());
    assert!(t.record_run_result(&result("in_progress", 2)).await.unwrap(), "late report: known, not applied");
    // The run leads back to its build (the finished-build notification).
    assert_eq!(t.build_for_run(77).await.unwrap(), Some(record.clone()));
    assert_eq!(t.build_for_run(78).await.unwrap(), None);

    let ds = Datasource {
        id: DatasourceId::parse("api").unwrap(),
        location: Location::Github(RepoSlug::parse("octo/api").unwrap()),
        watch: WatchRules::parse(&["branch:main"]).unwrap(),
        paths: None,
        cooldown: Duration::ZERO,
        targets: vec![TargetId::parse("deploy").unwrap()],
        build_on_first_seen: false,
    };
    let target =
        TargetSpec::RepositoryDispatch { repo: RepoSlug::parse("octo/api").unwrap(), event_type: "build".into() };
    let targets = BTreeMap::from([(TargetId::parse("deploy").unwrap(), target.clone())]);
    assert_eq!(t.sync_catalog(std::slice::from_ref(&ds), &targets).await.unwrap(), (2, 0));
    assert_eq!(t.datasources().await.unwrap(), vec![ds.clone()]);
    assert_eq!(t.target(&TargetId::parse("deploy").unwrap()).await.unwrap(), Some(target));
    assert_eq!(t.sync_catalog(&[], &BTreeMap::new()).await.unwrap(), (0, 2), "undeclared ones are removed");
    assert_eq!(t.datasource(&ds.id).await.unwrap(), None);
}

#[tokio::test]
async fn a_message_received_five_times_moves_to_the_dead_letter_queue() {
    let Some(moto) = Moto::for_test() else { return };
    let config = sdk_config(&moto).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let dlq = sqs.create_queue().queue_name("builds-dlq").send().await.unwrap().queue_url.unwrap();
    let dlq_arn = queue_arn(&sqs, &dlq).await;
    let queue = sqs
        .create_queue()
        .queue_name("builds")
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5 }).to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let q = SqsBuildQueue::new(sqs.clone(), &queue);
    let requests: Vec<BuildRequest> = (0..12)
        .map(|i| {
            BuildRequest::new(
                DatasourceId::parse("api").unwrap(),
                RefName::parse(format!("refs/tags/v{i}")).unwrap(),
                CommitSha::parse("d".repeat(40)).unwrap(),
                RefKind::Tag,
                DetectionSource::Schedule,
                TargetId::parse("deploy").unwrap(),
                at(0),
                RunId::parse("run-1").unwrap(),
            )
        })
        .collect();
    let ids = q.enqueue(&requests).await.unwrap();
    assert_eq!(ids.len(), 12, "two batches (10 + 2)");
    let receive = |url: String, max: i32| {
        let sqs = sqs.clone();
        async move {
            sqs.receive_message()
                .queue_url(url)
                .max_number_of_messages(max)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default()
        }
    };
    // Every request arrives once, in order of the batch, with its body intact.
    let mut bodies = Vec::new();
    while bodies.len() < 12 {
        let got = receive(queue.clone(), 10).await;
        assert!(!got.is_empty(), "only {} of 12 arrived", bodies.len());
        for m in got {
            sqs.delete_message().queue_url(&queue).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
            bodies.push(serde_json::from_str::<BuildRequest>(m.body().unwrap()).unwrap());
        }
    }
    bodies.sort_by(|a, b| a.git_ref.as_str().cmp(b.git_ref.as_str()));
    let mut sent = requests.clone();
    sent.sort_by(|a, b| a.git_ref.as_str().cmp(b.git_ref.as_str()));
    assert_eq!(bodies, sent);

    // A poison build: received 5 times and never deleted; the 6th receive finds
    // it gone from the queue and parked in the DLQ.
    q.enqueue(&requests[..1]).await.unwrap();
    for i in 1..=5 {
        let got = receive(queue.clone(), 1).await;
        assert_eq!(got.len(), 1, "receive {i}");
    }
    assert!(receive(queue.clone(), 10).await.is_empty(), "after 5 receives it left the queue");
    let parked = receive(dlq.clone(), 10).await;
    assert_eq!(parked.len(), 1);
    assert_eq!(serde_json::from_str::<BuildRequest>(parked[0].body().unwrap()).unwrap(), requests[0]);
}

#[tokio::test]
async fn secure_string_parameters_are_read_once_by_name() {
    let Some(moto) = Moto::for_test() else { return };
    let config = sdk_config(&moto).await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    for (name, value) in
        [("/repowatch/github-token", "ghp_canary_ssm_1"), ("/repowatch/webhook-secret", "canary-ssm-2")]
    {
        ssm.put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .unwrap();
    }
    let names = vec!["/repowatch/github-token".to_owned(), "/repowatch/webhook-secret".to_owned()];
    let got = read_parameters(&ssm, &names).await.unwrap();
    assert_eq!(got["/repowatch/github-token"].expose(), "ghp_canary_ssm_1");
    assert!(!format!("{got:?}").contains("canary"), "values never print");
    let err = read_parameters(&ssm, &["/repowatch/missing".to_owned()]).await.unwrap_err();
    assert!(err.message.contains("/repowatch/missing"), "{}", err.message);
}

#[tokio::test]
async fn sns_delivers_an_alarm_to_a_subscribed_queue() {
    let Some(moto) = Moto::for_test() else { return };
    let config = moto.sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let topic = sns.create_topic().name("repowatch-alarms").send().await.unwrap().topic_arn.unwrap();
    let queue = sqs.create_queue().queue_name("alarm-tap").send().await.unwrap().queue_url.unwrap();
    let queue_arn = queue_arn(&sqs, &queue).await;
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&queue_arn).send().await.unwrap();
    // What CloudWatch publishes for an alarm: note the null description.
    let alarm = serde_json::json!({
        "AlarmName": "repowatch-dev-BuildDeadLetterAlarm", "AlarmDescription": null,
        "NewStateValue": "ALARM", "OldStateValue": "OK", "Region": "Asia Pacific (Tokyo)",
        "NewStateReason": "Threshold Crossed: 1 datapoint [1.0] was >= the threshold (1.0).",
    });
    sns.publish().topic_arn(&topic).subject("ALARM").message(alarm.to_string()).send().await.unwrap();
    let got =
        sqs.receive_message().queue_url(&queue).wait_time_seconds(1).send().await.unwrap().messages.unwrap_or_default();
    assert_eq!(got.len(), 1);
    // An SNS envelope around the alarm JSON, as notify receives it in Records[].Sns.
    let envelope: serde_json::Value = serde_json::from_str(got[0].body().unwrap()).unwrap();
    assert_eq!(envelope["TopicArn"], topic.as_str());
    let inner: serde_json::Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(inner, alarm);
}
