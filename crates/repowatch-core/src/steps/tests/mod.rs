//! Unit tests of the step handlers over the in-memory fakes: one module per
//! step, sharing the small builders in `support`.

mod support;

mod bounded;
mod detect_updates;
mod dispatch_build;
mod list_datasources;
mod notify;
mod process_updates;
