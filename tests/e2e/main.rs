//! End-to-end tests across crates, one test binary (modules by topic). They
//! drive the real `repowatch` CLI over real git repositories made in temp
//! dirs, with SQLite as store and queue. Nothing here needs AWS or a network.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod cli;
mod cloud;
mod crash;
mod deploy;
mod docs;
mod events;
mod faults;
mod github;
mod github_events;
pub(crate) mod invariants;
mod notify;
mod pipeline;
mod schema;
mod serve;
mod status_page;
mod sync;
mod template;
mod validator;
