//! Test support shared by the end-to-end tests and the benchmark binaries.
//! End-to-end tests live in `e2e/` (one test binary).

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod fault;
pub mod lambda_sim;
