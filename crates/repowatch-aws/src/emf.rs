//! Metrics as CloudWatch Embedded Metric Format lines on stdout: CloudWatch
//! Logs turns them into metrics, with no API call and no extra latency. At
//! most 10 metrics, namespace `Repowatch`, no dimension (a datasource-valued
//! dimension would be one billed metric per repository).

use serde_json::{Map, Value, json};

/// The namespace of every repowatch metric.
pub const NAMESPACE: &str = "Repowatch";

/// Every metric repowatch emits (the 10 it may).
pub const METRICS: [&str; 10] = [
    "DatasourcesChecked",
    "DatasourceErrors",
    "GithubQueries",
    "GithubPointsUsed",
    "GithubPointsRemaining",
    "ChangesDetected",
    "BuildsQueued",
    "BuildsDispatched",
    "BuildsDuplicate",
    "BuildsFailed",
];

/// One EMF line with `values` (name, count), at `timestamp_ms`.
pub fn line(values: &[(&'static str, u64)], timestamp_ms: i64) -> String {
    let mut root = Map::new();
    let metrics: Vec<Value> = values.iter().map(|(name, _)| json!({ "Name": name, "Unit": "Count" })).collect();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{ "Namespace": NAMESPACE, "Dimensions": [[]], "Metrics": metrics }],
        }),
    );
    for (name, value) in values {
        root.insert((*name).into(), json!(value));
    }
    Value::Object(root).to_string()
}

/// Prints one EMF line (stdout is what Lambda ships to CloudWatch Logs).
pub fn emit(values: &[(&'static str, u64)]) {
    let values: Vec<(&'static str, u64)> = values.iter().copied().filter(|(n, _)| METRICS.contains(n)).collect();
    if !values.is_empty() {
        println!("{}", line(&values, jiff::Timestamp::now().as_millisecond()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_valid_emf_without_dimensions() {
        let text = line(&[("BuildsQueued", 3), ("ChangesDetected", 4)], 1_790_000_000_000);
        assert!(!text.contains('\n'), "one line");
        let v: Value = serde_json::from_str(&text).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Repowatch");
        assert_eq!(directive["Dimensions"], json!([[]]));
        assert_eq!(directive["Metrics"][0], json!({"Name": "BuildsQueued", "Unit": "Count"}));
        assert_eq!(v["BuildsQueued"], 3);
        assert_eq!(v["_aws"]["Timestamp"], 1_790_000_000_000_i64);
    }

    #[test]
    fn at_most_ten_metrics() {
        assert!(METRICS.len() <= 10);
    }
}
