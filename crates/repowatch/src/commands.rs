//! One function per subcommand.

use std::io::Read;

use anyhow::Context;
use repowatch_core::steps::{DispatchOutcome, RunRequest, RunStatus};
use repowatch_core::{Clock, DatasourceId, DetectionSource, MessageId, SystemClock};
use repowatch_local::RunRecord;
use repowatch_local::engine::{self, new_run_id};
use repowatch_local::worker::{self, WorkReport, WorkerOptions};
use serde_json::{Value, json};

use crate::app::{App, Needs};
use crate::cli::{
    AslCommand, Cli, Command, DlqCommand, NotifyCommand, Outcome, RunArgs, StatusArgs, UsageError, WorkerArgs,
};
use crate::{config, render};

pub async fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Asl(AslCommand::Run { definition, input, history }) => {
            asl_run(&definition, &input, history, cli.json).await
        }
        Command::Validate => validate(&cli.config, cli.json),
        Command::Schema => {
            print!("{}", config::json_schema());
            Ok(Outcome::Success)
        }
        Command::Sync(args) => crate::sync::sync(&config::load(&cli.config)?, &args, cli.json).await,
        Command::Notify(NotifyCommand::Test) => notify_test(&config::load(&cli.config)?, cli.json).await,
        command => {
            let config = config::load(&cli.config)?;
            let needs = match &command {
                Command::Invoke(args) if args.function == "github-webhook" => Needs::Everything,
                Command::Serve(_) => Needs::Everything,
                Command::Run(_) | Command::Worker(_) | Command::Invoke(_) => Needs::Pipeline,
                _ => Needs::Nothing,
            };
            let app = App::open(config, needs)?;
            match command {
                Command::Run(args) => run(&app, args, cli.json).await,
                Command::Worker(args) => run_worker(&app, args, cli.json).await,
                Command::Serve(args) => crate::serve::serve(app, args, cli.json).await,
                Command::Status(args) => status(&app, args, cli.json).await,
                Command::Dlq(DlqCommand::List) => dlq_list(&app, cli.json).await,
                Command::Dlq(DlqCommand::Redrive { ids }) => dlq_redrive(&app, &ids, cli.json).await,
                Command::Invoke(args) => invoke(&app, &args.function, &args.event, cli.json).await,
                Command::Asl(_) | Command::Validate | Command::Sync(_) | Command::Notify(_) | Command::Schema => {
                    unreachable_command()
                }
            }
        }
    }
}

/// `repowatch notify test`: a sample to every channel; exit 1 if any failed.
async fn notify_test(config: &config::Config, json: bool) -> anyhow::Result<Outcome> {
    if config.notify.is_empty() {
        return Err(UsageError(format!(
            "{}: no [[notify]] channel is configured; add one (kind = \"discord\", url = \"env:DISCORD_WEBHOOK_URL\")",
            config.path.display()
        ))
        .into());
    }
    let notifiers = crate::app::notifiers(config)?;
    let message = repowatch_notify::Message::Test { at: SystemClock.now() };
    let delivery = notifiers.send_all(&message).await;
    if json {
        print_json(&delivery)?;
    } else {
        for name in &delivery.sent {
            println!("sent      {name}");
        }
        for (name, why) in &delivery.failed {
            println!("FAILED    {name}: {why}");
        }
    }
    Ok(if delivery.failed.is_empty() { Outcome::Success } else { Outcome::Failure })
}

fn unreachable_command() -> anyhow::Result<Outcome> {
    anyhow::bail!("internal error: command dispatched twice")
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Completes at Ctrl-C or SIGTERM (systemd, docker stop); the caller finishes
/// what it holds, then stops. Shared by the worker, `run --drain` and `serve`.
pub(crate) async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("stopping: what is in hand finishes first");
}

async fn run(app: &App, args: RunArgs, json: bool) -> anyhow::Result<Outcome> {
    let datasource = match args.datasource {
        Some(id) => {
            let id = DatasourceId::parse(id).map_err(|e| UsageError(format!("--datasource: {e}")))?;
            if !app.config.datasources.iter().any(|d| d.id == id) {
                let known: Vec<&str> = app.config.datasources.iter().map(|d| d.id.as_str()).collect();
                return Err(UsageError(format!(
                    "--datasource: {} declares no datasource {:?}; declared: {}",
                    app.config.path.display(),
                    id.as_str(),
                    known.join(", ")
                ))
                .into());
            }
            Some(id)
        }
        None => None,
    };
    let request = RunRequest { source: DetectionSource::Manual, datasource };
    let report = execute_run(app, &request).await?;

    let work = if args.drain { Some(drain(app, true, std::time::Duration::from_secs(1)).await?) } else { None };
    let builds = match &work {
        Some(w) => render::build_lines(app, w).await,
        None => vec![],
    };
    if json {
        let github = app.github.as_ref().map(|g| g.budget());
        print_json(&json!({ "run": report, "builds": work.as_ref().map(|w| &w.results), "github": github }))?;
    } else {
        print!("{}", render::run_summary(&app.config, &report));
        if let Some(github) = &app.github {
            println!("{}", render::github_budget(&github.budget(), &app.config.settings.timezone));
        }
        if let Some(w) = &work {
            print!("{}", render::work_summary(w, &builds, app.queue.depth().await.ok()));
        }
    }
    let run_ok = report.summary.as_ref().is_some_and(|s| s.status == RunStatus::Ok);
    let builds_ok = work.as_ref().is_none_or(|w| w.count(DispatchOutcome::Failed) == 0);
    Ok(if run_ok && builds_ok { Outcome::Success } else { Outcome::Failure })
}

/// One pipeline execution, recorded in the store with its summary (and the
/// GitHub budget left, when this process talks to GitHub).
pub async fn execute_run(app: &App, request: &RunRequest) -> anyhow::Result<engine::RunReport> {
    let started_at = SystemClock.now();
    let run_id = new_run_id(started_at)?;
    let report = app.engine.run(request, run_id.clone()).await;
    let status = report.summary.as_ref().map_or("failed", |s| s.status.as_str()).to_owned();
    let mut summary = match &report.summary {
        Some(s) => serde_json::to_value(s)?,
        None => json!({ "error": report.execution.error, "cause": report.execution.cause }),
    };
    if let (Some(github), Value::Object(map)) = (&app.github, &mut summary) {
        map.insert("github".into(), serde_json::to_value(github.budget())?);
    }
    let record = RunRecord {
        id: run_id.to_string(),
        started_at,
        finished_at: Some(SystemClock.now()),
        status,
        summary: Some(summary),
    };
    if let Err(e) = app.store.record_run(&record).await {
        tracing::warn!(error = %e.chain(), "cannot record the run");
    }
    Ok(report)
}

async fn drain(app: &App, once: bool, poll: std::time::Duration) -> anyhow::Result<WorkReport> {
    let started = SystemClock.now();
    let (events, notices) = crate::notices::spawn(app);
    let options = WorkerOptions { once, poll, visibility: app.visibility(), keep_results: true, events: Some(events) };
    let report = worker::work(&app.queue, app.ports(), &app.owner, &options, shutdown_signal()).await;
    drop(options); // the last sender: the notices task sends what it holds, then ends
    let _ = notices.await;
    crate::notices::parked(app, started, &mut Default::default()).await;
    Ok(report?)
}

async fn run_worker(app: &App, args: WorkerArgs, json: bool) -> anyhow::Result<Outcome> {
    if !args.once && !json {
        eprintln!("repowatch worker: consuming {} (Ctrl-C to stop)", app.config.settings.state_dir.display());
    }
    let work = drain(app, args.once, args.poll).await?;
    let builds = render::build_lines(app, &work).await;
    if json {
        print_json(&work)?;
    } else {
        print!("{}", render::work_summary(&work, &builds, app.queue.depth().await.ok()));
    }
    Ok(if work.count(DispatchOutcome::Failed) == 0 { Outcome::Success } else { Outcome::Failure })
}

async fn status(app: &App, args: StatusArgs, json: bool) -> anyhow::Result<Outcome> {
    if json {
        // The store's own records, complete (request bodies, idempotency keys), for scripts.
        let seen = app.store.list_refs_all().await?;
        let runs = app.store.recent_runs(args.limit).await?;
        let builds = app.store.recent_builds(args.limit).await?;
        let (visible, in_flight, dlq) = app.queue.depth().await?;
        let parked = app.queue.dlq_list().await?;
        let takeovers = app.store.takeovers().await?;
        let settings = &app.config.settings;
        let next_run = crate::schedule::Schedule::new(&settings.schedule, settings.timezone.clone())
            .ok()
            .and_then(|s| s.next_after(SystemClock.now()));
        print_json(&json!({
            "datasources": seen,
            "runs": runs,
            "builds": builds,
            "takeovers": takeovers,
            "queue": { "visible": visible, "in_flight": in_flight, "dlq": dlq },
            "parked": parked,
            "next_run": next_run,
        }))?;
    } else {
        let limits = crate::status::Limits { runs: args.limit, builds: args.limit };
        let snapshot = crate::status::gather(app, limits).await?;
        print!("{}", render::status(&snapshot, &app.config.settings.timezone));
    }
    Ok(Outcome::Success)
}

async fn dlq_list(app: &App, json: bool) -> anyhow::Result<Outcome> {
    let entries = app.queue.dlq_list().await?;
    if json {
        print_json(&entries)?;
    } else {
        print!("{}", render::dlq(&entries));
    }
    Ok(Outcome::Success)
}

async fn dlq_redrive(app: &App, ids: &[String], json: bool) -> anyhow::Result<Outcome> {
    let ids: Vec<MessageId> = ids
        .iter()
        .map(|i| MessageId::parse(i.as_str()))
        .collect::<Result<_, _>>()
        .map_err(|e| UsageError(e.to_string()))?;
    let moved = app.queue.dlq_redrive(if ids.is_empty() { None } else { Some(&ids) }).await?;
    if json {
        print_json(&json!({ "redriven": moved }))?;
    } else {
        println!("moved {moved} message(s) from the dead-letter queue back to the build queue");
        if !ids.is_empty() && moved < ids.len() {
            println!("{} id(s) were not in the dead-letter queue (see `repowatch dlq list`)", ids.len() - moved);
        }
    }
    Ok(if !ids.is_empty() && moved < ids.len() { Outcome::Failure } else { Outcome::Success })
}

async fn invoke(app: &App, function: &str, event: &std::path::Path, _json: bool) -> anyhow::Result<Outcome> {
    let text = if event.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("cannot read the event from stdin")?;
        s
    } else {
        std::fs::read_to_string(event).with_context(|| format!("cannot read the event file {}", event.display()))?
    };
    let input: Value = serde_json::from_str(&text)
        .map_err(|e| UsageError(format!("{}:{}:{}: not JSON: {e}", event.display(), e.line(), e.column())))?;
    match engine::invoke(app.ports(), function, input).await {
        Ok(output) => {
            print_json(&output)?;
            Ok(Outcome::Success)
        }
        Err(e @ engine::InvokeError::UnknownFunction { .. }) => Err(UsageError(e.to_string()).into()),
        Err(e) => {
            let failure = e.to_failure();
            print_json(&json!({ "errorType": failure.error, "errorMessage": failure.cause }))?;
            Ok(Outcome::Failure)
        }
    }
}

fn validate(path: &std::path::Path, json: bool) -> anyhow::Result<Outcome> {
    let mut problems: Vec<String> = Vec::new();
    match config::load(path) {
        Ok(c) => problems.extend(c.missing_github()),
        Err(e) => problems.extend(e.problems.iter().map(|p| p.to_string())),
    }
    let definition: Value = serde_json::from_str(engine::PIPELINE_DEFINITION).unwrap_or(Value::Null);
    let substituted = repowatch_asl::substitute(&definition, &engine::substitutions());
    problems.extend(
        repowatch_asl::validate(&substituted).into_iter().map(|p| format!("statemachines/pipeline.asl.json: {p}")),
    );
    if json {
        print_json(&json!({ "ok": problems.is_empty(), "problems": problems }))?;
    } else if problems.is_empty() {
        println!("{}: ok; statemachines/pipeline.asl.json: ok", path.display());
    } else {
        for p in &problems {
            println!("{p}");
        }
    }
    if problems.is_empty() {
        Ok(Outcome::Success)
    } else {
        Err(UsageError(format!("{} problem(s) found", problems.len())).into())
    }
}

async fn asl_run(definition: &std::path::Path, input: &str, history: bool, json: bool) -> anyhow::Result<Outcome> {
    let text = std::fs::read_to_string(definition).with_context(|| format!("cannot read {}", definition.display()))?;
    let machine = repowatch_asl::StateMachine::from_json_str(&text)
        .map_err(|e| UsageError(format!("{}: invalid definition:\n{e}", definition.display())))?;
    let input: Value = serde_json::from_str(input).map_err(|e| UsageError(format!("--input is not JSON: {e}")))?;
    let name = new_run_id(SystemClock.now())?;
    let options = repowatch_asl::ExecutionOptions {
        name: name.to_string(),
        state_machine_name: definition.file_stem().and_then(|s| s.to_str()).unwrap_or("definition").to_owned(),
        ..Default::default()
    };
    let execution = repowatch_asl::execute(&machine, input, &NoTasks, &repowatch_asl::SystemClock, options).await;
    if json {
        if history {
            print_json(&execution)?;
        } else {
            print_json(
                &json!({ "status": execution.status, "output": execution.output, "error": execution.error, "cause": execution.cause }),
            )?;
        }
    } else {
        print!("{}", render::execution(&execution, history));
    }
    Ok(if execution.status == repowatch_asl::ExecutionStatus::Succeeded { Outcome::Success } else { Outcome::Failure })
}

/// `asl run` has no functions to call: a Task fails as an unreachable Lambda would.
struct NoTasks;

#[async_trait::async_trait]
impl repowatch_asl::TaskInvoker for NoTasks {
    async fn invoke(
        &self,
        resource: &str,
        _input: Value,
        _ctx: repowatch_asl::TaskContext<'_>,
    ) -> Result<Value, repowatch_asl::TaskFailure> {
        Err(repowatch_asl::TaskFailure {
            error: "States.Runtime".to_owned(),
            cause: Some(format!(
                "`repowatch asl run` cannot call {resource:?}: Task resources are not reachable offline"
            )),
        })
    }
}
