//! Notifications people act on: run summaries, builds, failures, parked
//! build requests and CloudWatch alarms, rendered from one set of templates
//! in Japanese or English (`text`), laid out for Discord, Slack or a signed
//! webhook within each one's limits (`format`), and delivered with retries
//! that honour `retry-after` (`deliver`). The same code serves the local CLI
//! and the notify Lambda function.

pub mod alarm;
pub mod deliver;
pub mod format;
pub mod message;
pub mod render;
pub mod samples;
pub mod spec;
pub mod text;

pub use deliver::{Channel, Delivery, Kind, Notifiers, RetryPolicy};
pub use message::{BuildInfo, Message, ParkedItem, Severity, Topic};
pub use render::{Rendered, render};
pub use spec::{ChannelSpec, NotifySpec};
pub use text::Lang;
