//! repowatch-core: the pipeline written once. Domain types with parse
//! constructors, the ports (one trait per role) and the step handlers
//! list-datasources, detect-updates, process-updates, dispatch-build and
//! notify, as async functions over ports with serde inputs and outputs.
//!
//! The delivery semantics of DESIGN.md live here, for AWS and the embedded
//! engine alike: state is committed only after builds are enqueued (no update
//! lost), dispatch claims an idempotency key first (no duplicate build), one
//! bad datasource never fails a run. This crate has no AWS SDK, no database
//! and no HTTP client; adapters for those live in other crates.

pub mod catalog;
pub mod duration;
pub mod error;
#[cfg(any(test, feature = "test-util"))]
pub mod fakes;
pub mod functions;
pub mod github_events;
pub mod ids;
pub mod model;
pub mod ports;
pub mod rules;
pub mod secret;
pub mod signature;
pub mod steps;

pub use catalog::StaticCatalog;
pub use error::StepError;
pub use ids::{CommitSha, DatasourceId, IdError, IdempotencyKey, MessageId, RefKind, RefName, RunId, TargetId};
pub use model::*;
pub use ports::*;
