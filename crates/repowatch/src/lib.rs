//! The `repowatch` command line: loads repowatch.toml, runs the pipeline
//! in-process on the embedded engine (the same state machine definition and
//! step handlers as on AWS), and drives the build queue.

pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod notices;
pub mod page;
pub mod render;
pub mod routing;
pub mod schedule;
pub mod serve;
pub mod status;
pub mod sync;
