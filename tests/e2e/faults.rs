//! The fault matrix (tests/fault): every fault class with synthetic changes
//! through the embedded world, and the ledger's promises checked: nothing
//! lost, no duplicate outside the crash-after-POST window (each one carrying
//! the same key), no forged or replayed webhook accepted, no panic.
//! `cargo run --release -p repowatch-tests --bin fault-matrix` runs the
//! same with 1,000 changes per class and prints the table of
//! docs/reliability.md.

use repowatch_tests::fault::{self, FaultClass};

/// Changes per class here; the bench command runs 1,000.
fn changes() -> usize {
    std::env::var("REPOWATCH_FAULT_CHANGES").ok().and_then(|v| v.parse().ok()).unwrap_or(250)
}

async fn scenario(class: FaultClass) -> fault::Report {
    let seed: u64 = rand::random();
    let report = fault::run_embedded(class, changes(), seed).await;
    eprintln!("{report:?}");
    if let Err(e) = report.check() {
        panic!("{e} (seed {seed})");
    }
    assert_eq!(report.changes, changes());
    report
}

macro_rules! fault_tests {
    ($($name:ident: $class:expr => |$r:ident| $extra:block)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let $r = scenario($class).await;
            $extra
        }
    )*};
}

fault_tests! {
    no_fault: FaultClass::None => |r| {
        assert_eq!((r.faults_injected, r.duplicates, r.parked), (0, 0, 0), "{r:?}");
    }
    a_step_failing_30_percent: FaultClass::StepFails => |r| { assert!(r.faults_injected > 0, "{r:?}"); }
    a_step_timing_out_after_its_work: FaultClass::StepTimesOut => |r| { assert!(r.faults_injected > 0 && r.runs_not_ok > 0, "{r:?}"); }
    a_hanging_task: FaultClass::HangingTask => |r| { assert!(r.faults_injected > 0 && r.runs_not_ok > 0, "{r:?}"); }
    lambda_throttling: FaultClass::LambdaThrottled => |r| { assert!(r.faults_injected > 0, "{r:?}"); }
    the_build_server_down_then_back: FaultClass::DispatchOutage => |r| {
        assert!(r.parked > 0 && r.parked == r.redriven, "the outage parks builds and the redrive brings them back: {r:?}");
    }
    a_crash_after_the_post: FaultClass::CrashAfterPost => |r| {
        assert!(r.faults_injected > 0 && r.takeovers > 0, "{r:?}");
        assert_eq!(r.duplicates, r.duplicates_in_window, "{r:?}");
    }
    every_message_delivered_twice_at_once: FaultClass::DeliveredTwice => |r| { assert!(r.faults_injected > 0, "{r:?}"); }
    a_malformed_partial_batch_response: FaultClass::MalformedBatchResponse => |r| { assert!(r.faults_injected > 0, "{r:?}"); }
    a_hanging_build_server: FaultClass::HangingTarget => |r| { assert!(r.faults_injected > 0, "{r:?}"); }
    github_502_and_504: FaultClass::Github5xx => |r| { assert!(r.faults_injected > 0, "{r:?}"); }
    github_200_with_errors: FaultClass::GithubErrors => |r| { assert!(r.faults_injected > 0, "{r:?}"); }
    github_secondary_rate_limit: FaultClass::GithubSecondaryLimit => |r| { assert!(r.faults_injected > 0, "{r:?}"); }
    github_429: FaultClass::Github429 => |r| { assert!(r.faults_injected > 0, "{r:?}"); }
    a_deleted_repository: FaultClass::DeletedRepository => |r| { assert!(r.unbuildable > 0, "{r:?}"); }
    lost_forged_and_replayed_webhooks: FaultClass::LostWebhook => |r| {
        assert!(r.webhooks_lost > 0 && r.recovered_by_schedule == r.webhooks_lost, "{r:?}");
    }
}

#[test]
fn the_event_source_mapping_reads_partial_batch_answers_as_aws_does() {
    use repowatch_core::MessageId;
    let batch = [MessageId::parse("m-1").unwrap(), MessageId::parse("m-2").unwrap()];
    let read = |text: &str| fault::batch_failures(&Ok(text.to_owned()), &batch);
    // Complete success: an empty or null list, an empty or null answer.
    for ok in [r#"{"batchItemFailures":[]}"#, r#"{"batchItemFailures":null}"#, "{}", "null"] {
        assert_eq!(read(ok), Some(Default::default()), "{ok}");
    }
    assert_eq!(read(r#"{"batchItemFailures":[{"itemIdentifier":"m-2"}]}"#).unwrap().len(), 1);
    // The whole batch failed: invalid JSON, null/empty/unknown ids, a wrong key inside.
    for bad in [
        "{",
        r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
        r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
        r#"{"batchItemFailures":[{"itemIdentifier":"m-9"}]}"#,
        r#"{"batchItemFailures":[{"itemId":"m-1"}]}"#,
    ] {
        assert_eq!(read(bad), None, "{bad}");
    }
    assert_eq!(fault::batch_failures(&Err("Lambda.Unknown".into()), &batch), None);
}

/// The cloud world: real bootstraps, moto, the fake GitHub. Fewer changes
/// than the embedded world (moto answers in milliseconds, not microseconds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_cloud_keeps_the_promises_under_every_cloud_fault() {
    let changes = (changes() / 2).max(50);
    for class in fault::cloud::CLASSES {
        let seed: u64 = rand::random();
        let Some(report) = fault::cloud::run_cloud(class, changes, seed).await else { return };
        eprintln!("{report:?}");
        if let Err(e) = report.check() {
            panic!("cloud: {e} (seed {seed})");
        }
        assert_eq!(report.changes, changes);
        if class != FaultClass::None {
            assert!(report.faults_injected > 0, "{report:?}");
        }
    }
}
