//! `Retry` and `Catch` (States Language: Errors — Retrying after an error,
//! Fallback states).

use crate::dataflow::Template;
use crate::error::STATES_ALL;
use crate::path::ReferencePath;
use crate::validate::{MISSING, Obj, Problems};
use serde_json::Value;
use std::time::Duration;

/// `JitterStrategy` of a retrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Jitter {
    None,
    Full,
}

/// One element of `Retry`.
#[derive(Debug, Clone)]
pub(crate) struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter: Jitter,
}

impl Retrier {
    /// The wait before retry number `retry` (0-based): IntervalSeconds ×
    /// BackoffRate^retry, capped by MaxDelaySeconds, then jittered.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let exponent = i32::try_from(retry).unwrap_or(i32::MAX);
        let mut seconds = self.interval_seconds as f64 * self.backoff_rate.powi(exponent);
        if let Some(max) = self.max_delay_seconds {
            seconds = seconds.min(max as f64);
        }
        // Keep Duration::from_secs_f64 away from infinities; a year is plenty.
        seconds = seconds.clamp(0.0, 31_536_000.0);
        if self.jitter == Jitter::Full {
            seconds *= rand::random::<f64>();
        }
        Duration::from_secs_f64(seconds)
    }
}

/// One element of `Catch`.
#[derive(Debug, Clone)]
pub(crate) struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    /// `None` is `ResultPath: null`.
    pub result_path: Option<ReferencePath>,
    /// Variables set when this catcher handles an error (`$` is the error output).
    pub assign: Option<Template>,
}

/// `Retry` and `Catch` of a Task, Map or Parallel state.
#[derive(Debug, Clone, Default)]
pub(crate) struct ErrorHandling {
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

impl ErrorHandling {
    pub(crate) fn parse(obj: Obj<'_, '_>, p: &mut Problems) -> ErrorHandling {
        let mut handling = ErrorHandling::default();
        for (key, is_retry) in [("Retry", true), ("Catch", false)] {
            let Some(value) = obj.get(key) else { continue };
            let list_ptr = obj.ptr.key(key);
            let Value::Array(items) = value else {
                p.add(list_ptr, "must be an array");
                continue;
            };
            let last = items.len().saturating_sub(1);
            for (i, item) in items.iter().enumerate() {
                let ptr = list_ptr.index(i);
                let Value::Object(map) = item else {
                    p.add(ptr, "must be a JSON object");
                    continue;
                };
                let entry = Obj { map, ptr };
                let error_equals =
                    parse_error_equals(entry, p, i == last, if is_retry { "retrier" } else { "catcher" });
                if is_retry {
                    entry.allow(
                        p,
                        &[
                            "ErrorEquals",
                            "IntervalSeconds",
                            "MaxAttempts",
                            "BackoffRate",
                            "MaxDelaySeconds",
                            "JitterStrategy",
                            "Comment",
                        ],
                        "a retrier",
                    );
                    let jitter = match entry.opt_str(p, "JitterStrategy") {
                        None | Some("NONE") => Jitter::None,
                        Some("FULL") => Jitter::Full,
                        Some(other) => {
                            p.add(entry.at("JitterStrategy"), format!("must be `FULL` or `NONE`, not `{other}`"));
                            Jitter::None
                        }
                    };
                    handling.retry.push(Retrier {
                        error_equals,
                        interval_seconds: entry.opt_uint(p, "IntervalSeconds", 1).unwrap_or(1),
                        max_attempts: entry.opt_uint(p, "MaxAttempts", 0).unwrap_or(3),
                        backoff_rate: entry.opt_number(p, "BackoffRate", 1.0).unwrap_or(2.0),
                        max_delay_seconds: entry.opt_uint(p, "MaxDelaySeconds", 1),
                        jitter,
                    });
                } else {
                    entry.allow(p, &["ErrorEquals", "Next", "ResultPath", "Comment", "Assign"], "a catcher");
                    let next = entry.req_str(p, "Next").unwrap_or_default().to_string();
                    handling.catch.push(Catcher {
                        error_equals,
                        next,
                        result_path: entry.result_path(p, "ResultPath"),
                        assign: entry.template(p, "Assign", true),
                    });
                }
            }
        }
        handling
    }
}

fn parse_error_equals(entry: Obj<'_, '_>, p: &mut Problems, is_last: bool, what: &str) -> Vec<String> {
    let ptr = entry.ptr.key("ErrorEquals");
    let Some(value) = entry.get("ErrorEquals") else {
        p.add(ptr, MISSING);
        return Vec::new();
    };
    let names: Option<Vec<String>> =
        value.as_array().and_then(|items| items.iter().map(|v| v.as_str().map(str::to_string)).collect());
    match names {
        Some(names) if !names.is_empty() => {
            if names.iter().any(|n| n == STATES_ALL) {
                if names.len() > 1 {
                    p.add(ptr, "`States.ALL` must appear alone in `ErrorEquals`");
                }
                if !is_last {
                    p.add(ptr, format!("a {what} with `States.ALL` must be the last one"));
                }
            }
            names
        }
        _ => {
            p.add(ptr, "must be a non-empty array of error names");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retrier(interval: u64, rate: f64, max_delay: Option<u64>, jitter: Jitter) -> Retrier {
        Retrier {
            error_equals: vec![],
            interval_seconds: interval,
            max_attempts: 3,
            backoff_rate: rate,
            max_delay_seconds: max_delay,
            jitter,
        }
    }

    // States Language: Errors — Retrying after an error (IntervalSeconds × BackoffRate^n, MaxDelaySeconds).
    #[test]
    fn backoff_and_cap() {
        let r = retrier(2, 2.0, None, Jitter::None);
        assert_eq!([r.delay(0), r.delay(1), r.delay(2)], [2, 4, 8].map(Duration::from_secs));
        let capped = retrier(2, 2.0, Some(5), Jitter::None);
        assert_eq!(capped.delay(2), Duration::from_secs(5));
        let huge = retrier(1, 1000.0, None, Jitter::None);
        assert!(huge.delay(u32::MAX) <= Duration::from_secs(31_536_000));
    }

    // States Language: Errors — JitterStrategy FULL waits within [0, delay].
    #[test]
    fn full_jitter_is_bounded() {
        let r = retrier(2, 2.0, None, Jitter::Full);
        for _ in 0..100 {
            assert!(r.delay(1) <= Duration::from_secs(4));
        }
    }
}
