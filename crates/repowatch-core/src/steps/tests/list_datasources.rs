//! list-datasources: which datasources a run covers, as shards of ≤100 ids.

use super::support::*;
use crate::error::StepError;
use crate::fakes::ManualClock;
use crate::model::{DetectionSource, RunInfo};
use crate::steps::list_datasources::{ListInput, RunRequest, SHARD_SIZE, Shard, list_datasources};

fn input(source: DetectionSource, datasource: Option<&str>) -> ListInput {
    ListInput { input: RunRequest { source, datasource: datasource.map(ds_id) }, run_id: run_id("run-1") }
}

#[tokio::test]
async fn all_datasources_are_sharded_by_shard_size_in_declared_order() {
    // DESIGN "Cost and scale rules": one Map item per shard of ≤100 datasources.
    assert_eq!(SHARD_SIZE, 100);
    // Declared in reverse, so the order kept is the catalog's, not a sorted one.
    let ids: Vec<String> = (0..250).rev().map(|n| format!("ds-{n}")).collect();
    let catalog = catalog(ids.iter().map(|id| api(id)).collect(), &["deploy"]);
    let clock = ManualClock::new(t0());

    let out = list_datasources(input(DetectionSource::Schedule, None), &catalog, &clock).await.unwrap();

    assert_eq!(
        out.run,
        RunInfo {
            id: run_id("run-1"),
            source: DetectionSource::Schedule,
            started_at: t0(),
            datasource: None,
            shards: 3
        }
    );
    assert_eq!(out.shards.iter().map(|s| s.datasources.len()).collect::<Vec<_>>(), [100, 100, 50]);
    let listed: Vec<String> = out.shards.iter().flat_map(|s| s.datasources.iter().map(|d| d.to_string())).collect();
    assert_eq!(listed, ids);
}

#[tokio::test]
async fn a_named_datasource_is_one_shard() {
    let catalog = catalog(vec![api("api"), api("web")], &["deploy"]);
    let clock = ManualClock::new(t0());

    let out = list_datasources(input(DetectionSource::Webhook, Some("web")), &catalog, &clock).await.unwrap();

    assert_eq!(
        out.run,
        RunInfo {
            id: run_id("run-1"),
            source: DetectionSource::Webhook,
            started_at: t0(),
            datasource: Some(ds_id("web")),
            shards: 1
        }
    );
    assert_eq!(out.shards, vec![Shard { datasources: vec![ds_id("web")] }]);
}

#[tokio::test]
async fn an_unknown_name_is_a_config_error_listing_the_configured_ids() {
    // Promise 6: bad input gets a clear error that says what to do.
    let catalog = catalog(vec![api("api"), api("web")], &["deploy"]);
    let clock = ManualClock::new(t0());

    let err = list_datasources(input(DetectionSource::Webhook, Some("apii")), &catalog, &clock).await.unwrap_err();

    assert!(matches!(err, StepError::Config(_)), "{err:?}");
    assert_eq!(err.error_name(), StepError::CONFIG);
    // The same Cause as events/notify/list-failed.json carries.
    assert_eq!(err.cause(), "configuration: no datasource has id \"apii\"; configured: api, web");
}

#[tokio::test]
async fn an_unknown_name_in_an_empty_catalog_says_none_are_configured() {
    let catalog = catalog(vec![], &[]);
    let clock = ManualClock::new(t0());

    let err = list_datasources(input(DetectionSource::Manual, Some("api")), &catalog, &clock).await.unwrap_err();

    assert_eq!(err.cause(), "configuration: no datasource has id \"api\"; configured: none");
}

#[tokio::test]
async fn an_empty_catalog_gives_no_shards() {
    let catalog = catalog(vec![], &[]);
    let clock = ManualClock::new(t0());

    let out = list_datasources(input(DetectionSource::Schedule, None), &catalog, &clock).await.unwrap();

    assert_eq!(out.shards, Vec::<Shard>::new());
    assert_eq!(out.run.started_at, t0());
}
