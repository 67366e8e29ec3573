//! CloudWatch alarm notifications as SNS delivers them to the notify function.
//!
//! The SNS `Message` is CloudWatch's JSON: `AlarmName`, `AlarmDescription`
//! (null when the alarm has none), `NewStateValue`, `NewStateReason`,
//! `StateChangeTime` (`2015-06-03T17:43:27.123+0000`), `Region` (a display
//! name such as "Asia Pacific (Tokyo)", not a code), `AlarmArn`, and a
//! `Trigger` that names one metric or, for metric-math alarms, `Metrics`
//! (expressions and metric stats). Every field may be missing or odd; an
//! unreadable message still becomes a notification (`Message::Unrecognised`).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The state an alarm moved to (or from).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmState {
    Alarm,
    Ok,
    InsufficientData,
    Other(String),
}

impl AlarmState {
    fn parse(text: &str) -> Self {
        match text {
            "ALARM" => AlarmState::Alarm,
            "OK" => AlarmState::Ok,
            "INSUFFICIENT_DATA" => AlarmState::InsufficientData,
            other => AlarmState::Other(other.to_owned()),
        }
    }
}

/// What an alarm watches, for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Watched {
    /// `AWS/Lambda Errors`.
    Metric { namespace: String, name: String },
    /// Metric math: the expression that returns data, and its label.
    Expression { expression: String, label: Option<String> },
}

/// One CloudWatch alarm state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarm {
    pub name: String,
    pub description: Option<String>,
    pub state: AlarmState,
    pub previous: Option<AlarmState>,
    pub reason: String,
    pub changed_at: Option<Timestamp>,
    /// As CloudWatch writes it: a display name ("Asia Pacific (Tokyo)").
    pub region: Option<String>,
    /// The region code from the alarm ARN (`ap-northeast-1`), for the console link.
    pub region_code: Option<String>,
    pub watched: Option<Watched>,
}

impl Alarm {
    /// The alarm's page in the CloudWatch console, when the ARN names a region.
    pub fn console_url(&self) -> Option<String> {
        let region = self.region_code.as_deref()?;
        let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok(region) {
            return None;
        }
        Some(format!(
            "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{}",
            percent_encode(&self.name)
        ))
    }
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Why a message is not a CloudWatch alarm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAnAlarm {
    #[error("not JSON")]
    NotJson,
    #[error("JSON without an AlarmName")]
    NoName,
}

/// Reads an SNS message body as a CloudWatch alarm.
pub fn parse(message: &str) -> Result<Alarm, NotAnAlarm> {
    let v: Value = serde_json::from_str(message).map_err(|_| NotAnAlarm::NotJson)?;
    let text = |key: &str| v.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let name = text("AlarmName").ok_or(NotAnAlarm::NoName)?.to_owned();
    let region_code =
        text("AlarmArn").and_then(|arn| arn.split(':').nth(3)).filter(|r| !r.is_empty()).map(str::to_owned);
    Ok(Alarm {
        name,
        description: text("AlarmDescription").map(str::to_owned),
        state: AlarmState::parse(text("NewStateValue").unwrap_or("")),
        previous: text("OldStateValue").map(AlarmState::parse),
        reason: text("NewStateReason").unwrap_or_default().to_owned(),
        changed_at: text("StateChangeTime").and_then(parse_time),
        region: text("Region").map(str::to_owned),
        region_code,
        watched: v.get("Trigger").and_then(watched),
    })
}

/// CloudWatch writes `2015-06-03T17:43:27.123+0000`; accept RFC 3339 too.
fn parse_time(text: &str) -> Option<Timestamp> {
    text.parse::<Timestamp>()
        .ok()
        .or_else(|| jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", text).ok()?.to_timestamp().ok())
}

fn watched(trigger: &Value) -> Option<Watched> {
    let s = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    if let Some(name) = s(trigger, "MetricName") {
        return Some(Watched::Metric { namespace: s(trigger, "Namespace").unwrap_or_default(), name });
    }
    let metrics = trigger.get("Metrics")?.as_array()?;
    // The series the alarm evaluates is the one with ReturnData: an expression or a metric.
    // Older or hand-written payloads may omit ReturnData: then the first expression, else the first metric.
    let returned = metrics
        .iter()
        .find(|m| m.get("ReturnData").and_then(Value::as_bool) == Some(true))
        .or_else(|| metrics.iter().find(|m| m.get("Expression").is_some()))
        .or_else(|| metrics.first())?;
    if let Some(expression) = s(returned, "Expression") {
        return Some(Watched::Expression { expression, label: s(returned, "Label") });
    }
    let metric = returned.pointer("/MetricStat/Metric")?;
    Some(Watched::Metric { namespace: s(metric, "Namespace").unwrap_or_default(), name: s(metric, "MetricName")? })
}

/// The Japanese name of an AWS region, from CloudWatch's English display name
/// or a region code; `None` when it is not one we know (shown as written).
pub fn region_ja(display_or_code: &str) -> Option<&'static str> {
    const REGIONS: &[(&str, &str, &str)] = &[
        ("ap-northeast-1", "Asia Pacific (Tokyo)", "アジアパシフィック (東京)"),
        ("ap-northeast-3", "Asia Pacific (Osaka)", "アジアパシフィック (大阪)"),
        ("ap-northeast-2", "Asia Pacific (Seoul)", "アジアパシフィック (ソウル)"),
        ("ap-southeast-1", "Asia Pacific (Singapore)", "アジアパシフィック (シンガポール)"),
        ("ap-southeast-2", "Asia Pacific (Sydney)", "アジアパシフィック (シドニー)"),
        ("ap-east-1", "Asia Pacific (Hong Kong)", "アジアパシフィック (香港)"),
        ("ap-south-1", "Asia Pacific (Mumbai)", "アジアパシフィック (ムンバイ)"),
        ("us-east-1", "US East (N. Virginia)", "米国東部 (バージニア北部)"),
        ("us-east-2", "US East (Ohio)", "米国東部 (オハイオ)"),
        ("us-west-1", "US West (N. California)", "米国西部 (北カリフォルニア)"),
        ("us-west-2", "US West (Oregon)", "米国西部 (オレゴン)"),
        ("eu-west-1", "EU (Ireland)", "欧州 (アイルランド)"),
        ("eu-west-2", "EU (London)", "欧州 (ロンドン)"),
        ("eu-central-1", "EU (Frankfurt)", "欧州 (フランクフルト)"),
        ("ca-central-1", "Canada (Central)", "カナダ (中部)"),
        ("sa-east-1", "South America (Sao Paulo)", "南米 (サンパウロ)"),
    ];
    let key = display_or_code.trim();
    // CloudWatch has written both "EU (Ireland)" and "Europe (Ireland)".
    let europe = key.strip_prefix("Europe ").map(|rest| format!("EU {rest}"));
    REGIONS
        .iter()
        .find(|(code, en, _)| *code == key || *en == key || europe.as_deref() == Some(*en))
        .map(|(_, _, ja)| *ja)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_metric_alarm_from_the_aws_lambda_events_fixture() {
        let sns: Value = serde_json::from_str(include_str!("../tests/fixtures/alarm-sns-single-metric.json")).unwrap();
        let alarm = parse(sns["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
        assert_eq!(alarm.name, "EXAMPLE");
        assert_eq!(alarm.state, AlarmState::Alarm);
        assert_eq!(alarm.previous, Some(AlarmState::InsufficientData));
        assert_eq!(alarm.watched, Some(Watched::Metric { namespace: "AWS/EC2".into(), name: "NetworkOut".into() }));
        assert_eq!(alarm.changed_at.unwrap().to_string(), "2015-06-03T17:43:27.123Z");
    }

    #[test]
    fn a_metric_math_alarm_names_its_expression() {
        let sns: Value =
            serde_json::from_str(include_str!("../tests/fixtures/alarm-sns-multiple-metrics.json")).unwrap();
        let alarm = parse(sns["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
        assert_eq!(
            alarm.watched,
            Some(Watched::Expression { expression: "m1*1".into(), label: Some("Expression1".into()) })
        );
    }

    #[test]
    fn metric_math_without_return_data_still_names_the_expression() {
        let alarm = parse(r#"{"AlarmName":"x","Trigger":{"Metrics":[{"Id":"m1","MetricStat":{"Metric":{"MetricName":"Errors","Namespace":"AWS/Lambda"}}},{"Id":"e1","Expression":"m1*100"}]}}"#).unwrap();
        assert_eq!(alarm.watched, Some(Watched::Expression { expression: "m1*100".into(), label: None }));
    }

    #[test]
    fn null_description_missing_fields_and_garbage() {
        let alarm = parse(r#"{"AlarmName":"x","AlarmDescription":null,"NewStateValue":"OK"}"#).unwrap();
        assert_eq!((alarm.description, alarm.state, alarm.changed_at), (None, AlarmState::Ok, None));
        assert_eq!(parse("not json"), Err(NotAnAlarm::NotJson));
        assert_eq!(parse(r#"{"Records":[]}"#), Err(NotAnAlarm::NoName));
        assert_eq!(parse(r#"{"AlarmName":"  "}"#), Err(NotAnAlarm::NoName));
        let odd = parse(r#"{"AlarmName":"y","NewStateValue":"MAYBE","StateChangeTime":"yesterday"}"#).unwrap();
        assert_eq!((odd.state, odd.changed_at), (AlarmState::Other("MAYBE".into()), None));
    }

    #[test]
    fn console_links_only_for_a_plain_region_code() {
        let mut alarm = parse(r#"{"AlarmName":"repowatch dev/errors","AlarmArn":"arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:x"}"#).unwrap();
        assert_eq!(
            alarm.console_url().unwrap(),
            "https://ap-northeast-1.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-1#alarmsV2:alarm/repowatch%20dev%2Ferrors"
        );
        alarm.region_code = Some("evil.example/x".into());
        assert_eq!(alarm.console_url(), None);
    }

    #[test]
    fn region_display_names() {
        assert_eq!(region_ja("Asia Pacific (Tokyo)"), Some("アジアパシフィック (東京)"));
        assert_eq!(region_ja("ap-northeast-1"), Some("アジアパシフィック (東京)"));
        assert_eq!(region_ja("Europe (Ireland)"), Some("欧州 (アイルランド)"));
        assert_eq!(region_ja("Mars (Olympus)"), None);
    }
}
