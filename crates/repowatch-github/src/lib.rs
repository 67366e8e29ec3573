//! GitHub for repowatch: change detection through batched GraphQL (one query
//! per ≤ 100 repositories), the compare API for `paths` filters, and the
//! dispatch targets reached over HTTP (`workflow_dispatch`,
//! `repository_dispatch`, the signed `webhook`), all behind one rate-limit
//! aware client per process.
//!
//! Depends on repowatch-core for the ports it implements; knows nothing about
//! SQLite, AWS or the command line.

pub mod client;
pub mod detect;
pub mod dispatch;

pub use client::{Budget, ClientOptions, GithubClient, GithubError, http_client};
pub use detect::GithubRefSource;
pub use dispatch::{GithubTarget, KEY_HEADER, SIGNATURE_HEADER, WebhookTarget, url_origin};
