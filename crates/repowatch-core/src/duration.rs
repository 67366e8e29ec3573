//! Human durations in configuration: `"90s"`, `"10m"`, `"1h 30m"`, `"500ms"`
//! (jiff's friendly format; ISO 8601 `"PT10M"` is accepted too).

use std::time::Duration;

/// Parses a non-negative duration; the error says what to write instead.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed: jiff::SignedDuration = text.trim().parse().map_err(|_| {
        format!("{text:?} is not a duration; write a number with a unit, e.g. \"90s\", \"10m\", \"1h 30m\"")
    })?;
    if parsed.is_negative() {
        return Err(format!("{text:?} is negative; a duration must be zero or more"));
    }
    Duration::try_from(parsed).map_err(|_| format!("{text:?} is out of range"))
}

/// Formats the way `parse_duration` reads: `"10m"`, `"1h 30m"`, `"0s"`.
pub fn format_duration(d: Duration) -> String {
    match jiff::SignedDuration::try_from(d) {
        Ok(sd) => format!("{sd:#}"),
        Err(_) => format!("{}s", d.as_secs()),
    }
}

/// `#[serde(with = "crate::duration::human")]` for `Duration` fields.
pub mod human {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_forms() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("PT10M").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
    }

    #[test]
    fn bad_forms() {
        assert_eq!(
            parse_duration("10 minutes please").unwrap_err(),
            "\"10 minutes please\" is not a duration; write a number with a unit, e.g. \"90s\", \"10m\", \"1h 30m\""
        );
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("-5m").is_err());
    }

    #[test]
    fn round_trip() {
        for s in ["10m", "1h 30m", "2s", "0s"] {
            assert_eq!(
                parse_duration(&format_duration(parse_duration(s).unwrap())).unwrap(),
                parse_duration(s).unwrap()
            );
        }
    }
}
