//! Command-line parsing and dispatch. Exit codes: 0 success, 1 failure
//! (a run that was not entirely OK, a failed build), 2 bad usage or bad
//! configuration. Human output on stdout by default, `--json` for scripts;
//! logs go to stderr (`RUST_LOG` or `-v`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::commands;

#[derive(Debug, Parser)]
#[command(
    name = "repowatch",
    version,
    about = "Watch repositories and turn their changes into builds — on one machine or on AWS."
)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, short = 'c', global = true, default_value = crate::config::DEFAULT_FILE, value_name = "FILE")]
    pub config: PathBuf,

    /// Machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipeline once, in-process, and print the run summary.
    Run(RunArgs),
    /// Consume the build queue and dispatch builds.
    Worker(WorkerArgs),
    /// Home-server mode: the webhook endpoint, the schedule, the worker and a status page, in one process.
    Serve(ServeArgs),
    /// Datasources with last-seen refs, recent runs and builds, queue and DLQ depth.
    Status(StatusArgs),
    /// Inspect and replay parked build requests (the dead-letter queue).
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Run one step handler on an event file (see events/).
    Invoke(InvokeArgs),
    /// Check repowatch.toml and the state machine definition; report every problem.
    Validate,
    /// Write repowatch.toml's datasources and targets to the AWS table (deployed mode).
    Sync(SyncArgs),
    /// Run States Language definitions offline.
    #[command(subcommand)]
    Asl(AslCommand),
    /// The [[notify]] channels.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Print the JSON Schema of repowatch.toml (the file schema/repowatch.schema.json), for editors.
    Schema,
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send a sample message to every configured channel, whatever its `on`.
    Test,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Only this datasource.
    #[arg(long, value_name = "ID")]
    pub datasource: Option<String>,
    /// Then dispatch the queued builds on this machine until the queue is empty
    /// (what `repowatch worker --once` does).
    #[arg(long)]
    pub drain: bool,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Stop when the queue is empty instead of waiting for more.
    #[arg(long)]
    pub once: bool,
    /// How often to look for new messages when the queue is empty.
    #[arg(long, default_value = "2s", value_parser = parse_duration_arg, value_name = "DURATION")]
    pub poll: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen here instead of [serve] listen (default 127.0.0.1:8080).
    #[arg(long, value_name = "IP:PORT")]
    pub listen: Option<std::net::SocketAddr>,
    /// Do not run the daily schedule (webhooks and build requests only).
    #[arg(long)]
    pub no_schedule: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The DynamoDB table (the stack's TableName output).
    #[arg(long, env = "REPOWATCH_TABLE", value_name = "NAME")]
    pub table: Option<String>,
    /// Check and print what would be written; touch nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// How many recent runs and builds to show.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List parked build requests.
    List,
    /// Move parked build requests back to the build queue (all, or the ids given).
    Redrive {
        /// Message ids (from `dlq list`); all when none are given.
        ids: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// list-datasources, detect-updates, process-updates, dispatch-build or notify.
    pub function: String,
    /// The event: a JSON file, e.g. events/detect-updates/shard.json ("-" reads stdin).
    #[arg(long, short = 'e', value_name = "FILE")]
    pub event: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum AslCommand {
    /// Run any ASL definition offline; Task states cannot call anything here
    /// except the repowatch functions, and fail with States.Runtime otherwise.
    Run {
        /// The definition (JSON file).
        definition: PathBuf,
        /// The execution input (JSON text).
        #[arg(long, default_value = "{}")]
        input: String,
        /// Print the execution history too.
        #[arg(long)]
        history: bool,
    },
}

fn parse_duration_arg(text: &str) -> Result<std::time::Duration, String> {
    repowatch_core::duration::parse_duration(text)
}

/// How a command ended.
pub enum Outcome {
    Success,
    Failure,
}

/// A failure that is the user's to fix (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::dispatch(cli)) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::from(1),
        Err(e) => {
            let usage =
                e.downcast_ref::<crate::config::ConfigError>().is_some() || e.downcast_ref::<UsageError>().is_some();
            eprintln!("error: {e:#}");
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}
