//! One example of every message kind, plus the edge cases that break naive
//! notifiers: long lists, very long errors, a null alarm description, a
//! metric-math alarm, a region display name, a message that is not an alarm.
//! The golden tests render them all; the channel tests send them all through
//! the Discord and Slack fakes, which check every limit.

use serde_json::{Value, json};

use crate::message::{BuildInfo, Message, ParkedItem};

const SINGLE_METRIC: &str = include_str!("../tests/fixtures/alarm-sns-single-metric.json");
const METRIC_MATH: &str = include_str!("../tests/fixtures/alarm-sns-multiple-metrics.json");

fn sns_message(fixture: &str) -> String {
    let v: Value = serde_json::from_str(fixture).unwrap_or(Value::Null);
    v.pointer("/Records/0/Sns/Message").and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn run(value: Value) -> Result<Message, serde_json::Error> {
    serde_json::from_value(json!({ "kind": "run", "summary": value, "github_remaining": 4870 }))
}

fn sha(c: char) -> String {
    c.to_string().repeat(40)
}

fn key(c: char) -> String {
    c.to_string().repeat(64)
}

fn build(datasource: &str, git_ref: &str, url: Option<&str>) -> Result<BuildInfo, serde_json::Error> {
    serde_json::from_value(json!({
        "datasource": datasource, "ref": git_ref, "commit": sha('a'), "target": "deploy", "url": url,
    }))
}

/// `(name, message)` for every kind and edge case, in a stable order.
pub fn all() -> Result<Vec<(&'static str, Message)>, serde_json::Error> {
    let started = "2026-11-25T08:00:00Z";
    let run_info = json!({ "id": "run-20261125-0800", "source": "schedule", "started_at": started });
    let queued = |id: &str, r: &str, c: char| {
        json!({ "id": id, "status": "changed", "builds": [
            { "kind": "branch", "ref": r, "commit": sha(c), "target": "deploy", "key": key(c), "message_id": format!("m-{id}") }
        ]})
    };
    let many_changed: Vec<Value> =
        (1..=40).map(|i| queued(&format!("service-{i:02}"), "refs/heads/main", 'b')).collect();
    let long_error = "GitHub answered 502 Bad Gateway three times for the batch query; the repository may be very large or GitHub may be degraded. ".repeat(12);
    let mut out = vec![
        ("run_ok", run(json!({
            "run": run_info, "status": "ok",
            "totals": { "datasources": 3, "first_seen": 0, "changed": 1, "builds_queued": 1, "pending": 0, "errors": 0 },
            "datasources": [queued("api", "refs/heads/main", 'c'), { "id": "web", "status": "unchanged" }, { "id": "docs", "status": "unchanged" }],
        }))?),
        ("run_quiet", run(json!({
            "run": run_info, "status": "ok",
            "totals": { "datasources": 2, "first_seen": 0, "changed": 0, "builds_queued": 0, "pending": 0, "errors": 0 },
            "datasources": [{ "id": "api", "status": "unchanged" }, { "id": "web", "status": "unchanged" }],
        }))?),
        ("run_partial", run(json!({
            "run": run_info, "status": "partial",
            "totals": { "datasources": 3, "first_seen": 1, "changed": 1, "builds_queued": 1, "pending": 1, "errors": 1 },
            "datasources": [
                queued("api", "refs/tags/v1.2.0", 'd'),
                { "id": "new-repo", "status": "baseline" },
                { "id": "web", "status": "unchanged", "pending": [{ "ref": "refs/heads/main", "commit": sha('e'), "due_at": "2026-11-25T08:10:00Z" }] },
                { "id": "gone", "status": "error", "error": { "name": "Repowatch.SourceUnavailable", "message": "octo/gone: repository not found (deleted, renamed or no access); update or remove datasource \"gone\"" } },
            ],
            "failures": [{ "stage": "datasource", "datasources": ["gone"], "error": { "name": "Repowatch.SourceUnavailable", "message": "octo/gone: repository not found (deleted, renamed or no access); update or remove datasource \"gone\"" } }],
        }))?),
        ("run_failed", run(json!({
            "status": "failed",
            "totals": { "datasources": 0, "first_seen": 0, "changed": 0, "builds_queued": 0, "pending": 0, "errors": 1 },
            "datasources": [],
            "failures": [{ "stage": "list-datasources", "error": { "name": "States.TaskFailed", "message": "DynamoDB: query the catalog: ResourceNotFoundException: Requested resource not found" } }],
        }))?),
        ("run_many_changes_and_long_errors", run(json!({
            "run": run_info, "status": "partial",
            "totals": { "datasources": 52, "first_seen": 0, "changed": 40, "builds_queued": 40, "pending": 0, "errors": 12 },
            "datasources": many_changed,
            "failures": (1..=12).map(|i| json!({ "stage": "datasource", "datasources": [format!("broken-{i:02}")], "error": { "name": "Repowatch.SourceUnavailable", "message": long_error } })).collect::<Vec<_>>(),
        }))?),
        ("build_dispatched", Message::BuildDispatched {
            build: build("api", "refs/heads/main", Some("https://github.com/octo/api/actions/runs/987654321"))?,
        }),
        ("build_succeeded", Message::BuildFinished {
            build: build("api", "refs/tags/v1.2.0", Some("https://github.com/octo/api/actions/runs/987654321"))?,
            conclusion: "success".into(),
        }),
        ("build_failed", Message::BuildFinished {
            build: build("api", "refs/heads/main", Some("https://github.com/octo/api/actions/runs/987654322"))?,
            conclusion: "failure".into(),
        }),
        ("build_cancelled_without_link", Message::BuildFinished { build: build("web", "refs/heads/main", None)?, conclusion: "cancelled".into() }),
        ("parked", Message::Parked {
            total: 14,
            items: (1..=12)
                .map(|i| serde_json::from_value::<ParkedItem>(json!({
                    "datasource": format!("service-{i:02}"), "ref": "refs/heads/main", "target": "gpu", "receive_count": 5,
                    "error": "webhook target gpu (https://builder.example): HTTP 503 Service Unavailable after 3 attempts",
                })))
                .collect::<Result<_, _>>()?,
        }),
        ("unrecognised", Message::Unrecognised { subject: Some("Hello".into()), text: "This is not a CloudWatch alarm, but it reached the alarm topic.".into() }),
        ("channels_failed", Message::ChannelsFailed { channels: vec!["slack #2 (hooks.slack.com)".into()] }),
        ("test", Message::Test { at: started.parse().unwrap_or(jiff::Timestamp::UNIX_EPOCH) }),
    ];
    for (name, raw) in [
        ("alarm_fixture_single_metric", sns_message(SINGLE_METRIC)),
        ("alarm_fixture_metric_math", sns_message(METRIC_MATH)),
        ("alarm_tokyo_null_description", json!({
            "AlarmName": "repowatch-prod-failed-executions", "AlarmDescription": null, "AWSAccountId": "123456789012",
            "NewStateValue": "ALARM", "OldStateValue": "OK",
            "NewStateReason": "Threshold Crossed: 1 out of the last 1 datapoints [1.0 (25/11/26 08:00:00)] was greater than or equal to the threshold (1.0).",
            "StateChangeTime": "2026-11-25T08:00:41.618+0000", "Region": "Asia Pacific (Tokyo)",
            "AlarmArn": "arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:repowatch-prod-failed-executions",
            "Trigger": { "MetricName": "ExecutionsFailed", "Namespace": "AWS/States", "Statistic": "SUM", "Period": 300, "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 1.0 },
        }).to_string()),
        ("alarm_ok_metric_math", json!({
            "AlarmName": "repowatch-prod-lambda-error-rate", "AlarmDescription": "Lambda error rate at or above 5 % across the six functions",
            "NewStateValue": "OK", "OldStateValue": "ALARM", "NewStateReason": "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching].",
            "StateChangeTime": "2026-11-25T09:15:00.000+0000", "Region": "EU (Ireland)",
            "AlarmArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:repowatch-prod-lambda-error-rate",
            "Trigger": { "Metrics": [
                { "Id": "rate", "Expression": "100 * errors / MAX([invocations, 1])", "Label": "Error rate (%)", "ReturnData": true },
                { "Id": "errors", "MetricStat": { "Metric": { "MetricName": "Errors", "Namespace": "AWS/Lambda" }, "Period": 300, "Stat": "Sum" }, "ReturnData": false },
            ]},
        }).to_string()),
        ("alarm_insufficient_data_unknown_region", json!({
            "AlarmName": "repowatch-dev-dlq-depth", "AlarmDescription": "", "NewStateValue": "INSUFFICIENT_DATA",
            "StateChangeTime": "2026-11-25T10:00:00.000+0000", "Region": "Asia Pacific (Taipei)",
        }).to_string()),
    ] {
        out.push((name, Message::from_sns(None, &raw)));
    }
    Ok(out)
}
