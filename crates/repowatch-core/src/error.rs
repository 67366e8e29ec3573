//! The one error type of the step handlers. [`StepError::error_name`] is what
//! Step Functions `Retry`/`Catch` match, on AWS (through the Lambda glue) and
//! locally (through the embedded engine) alike.

use crate::model::ErrorInfo;
use crate::ports::PortError;

/// Why a step failed as a whole. Failures of one datasource are not step
/// errors: they are reported in the step's output and the run goes on.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The step's input JSON does not fit its contract. Not retryable.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The configuration (catalog) cannot serve this request. Not retryable.
    #[error("configuration: {0}")]
    Config(String),
    /// The state store or catalog could not be reached. Retryable.
    #[error("state store unavailable: {0}")]
    Store(#[source] PortError),
    /// The build queue could not be reached. Retryable.
    #[error("build queue unavailable: {0}")]
    Queue(#[source] PortError),
    /// A notification channel refused the message. Retryable.
    #[error("notification failed: {0}")]
    Notify(#[source] PortError),
}

impl StepError {
    pub const INVALID_INPUT: &'static str = "Repowatch.InvalidInput";
    pub const CONFIG: &'static str = "Repowatch.ConfigError";
    pub const STORE: &'static str = "Repowatch.StoreUnavailable";
    pub const QUEUE: &'static str = "Repowatch.QueueUnavailable";
    pub const NOTIFY: &'static str = "Repowatch.NotifyFailed";

    /// Every name [`StepError::error_name`] can return.
    pub const ALL_NAMES: [&'static str; 5] =
        [Self::INVALID_INPUT, Self::CONFIG, Self::STORE, Self::QUEUE, Self::NOTIFY];

    /// Per-datasource error names (in step outputs, not Task errors).
    pub const SOURCE_UNAVAILABLE: &'static str = "Repowatch.SourceUnavailable";
    pub const UNKNOWN_DATASOURCE: &'static str = "Repowatch.UnknownDatasource";

    /// The names a state machine should `Retry`: transient failures.
    pub const RETRYABLE_NAMES: [&'static str; 3] = [Self::STORE, Self::QUEUE, Self::NOTIFY];

    /// The `Error` of the failed Task, as Step Functions `Retry`/`Catch` see it.
    pub fn error_name(&self) -> &'static str {
        match self {
            StepError::InvalidInput(_) => Self::INVALID_INPUT,
            StepError::Config(_) => Self::CONFIG,
            StepError::Store(_) => Self::STORE,
            StepError::Queue(_) => Self::QUEUE,
            StepError::Notify(_) => Self::NOTIFY,
        }
    }

    /// The `Cause`: the message with its cause chain.
    pub fn cause(&self) -> String {
        match self {
            StepError::Store(e) | StepError::Queue(e) | StepError::Notify(e) => {
                let prefix = self.to_string();
                let head = e.to_string();
                format!("{}{}", prefix, e.chain().strip_prefix(head.as_str()).unwrap_or_default())
            }
            _ => self.to_string(),
        }
    }

    pub fn info(&self) -> ErrorInfo {
        ErrorInfo { name: self.error_name().to_owned(), message: self.cause() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable() {
        assert_eq!(StepError::InvalidInput("x".into()).error_name(), "Repowatch.InvalidInput");
        assert_eq!(StepError::Store(PortError::new("db")).error_name(), "Repowatch.StoreUnavailable");
        for n in StepError::RETRYABLE_NAMES {
            assert!(StepError::ALL_NAMES.contains(&n));
        }
    }

    #[test]
    fn cause_keeps_the_chain() {
        let io = std::io::Error::other("disk full");
        let e = StepError::Store(PortError::with_source("cannot write state.db", io));
        assert_eq!(e.cause(), "state store unavailable: cannot write state.db: disk full");
    }
}
