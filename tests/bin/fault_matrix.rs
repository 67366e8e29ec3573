//! The fault matrix as a bench command: every fault class (or the ones
//! named) with N synthetic changes, the ledger of each, one table.
//!
//!     cargo run --profile bench -p repowatch-tests --bin fault-matrix -- [--changes 1000] [--class NAME]... [--seed S] [--world embedded|cloud|all]
//!
//! The cloud world needs moto (scripts/test.sh installs it) and the debug
//! builds of functions/ (`cargo build --workspace`; built when missing).
//!
//! Prints a Markdown table (docs/reliability.md keeps the latest) and writes
//! the reports as JSON to target/artifacts/fault-matrix/report.json. Exits 1
//! when any class broke a promise, naming which.

// A bench command: a failed unwrap is a broken harness, reported with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::ExitCode;

use repowatch_tests::fault::{self, FaultClass};

fn main() -> ExitCode {
    let mut changes = 1000;
    let mut classes = Vec::new();
    let mut seed: u64 = rand::random();
    let mut world = "all".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        let parsed = match (arg.as_str(), value.as_deref()) {
            ("--changes", Some(v)) => v.parse::<usize>().map(|n| changes = n).map_err(|e| e.to_string()),
            ("--seed", Some(v)) => v.parse::<u64>().map(|n| seed = n).map_err(|e| e.to_string()),
            ("--world", Some(v)) if ["embedded", "cloud", "all"].contains(&v) => {
                world = v.to_owned();
                Ok(())
            }
            ("--class", Some(v)) => FaultClass::parse(v)
                .map(|c| classes.push(c))
                .ok_or_else(|| format!("unknown class; one of: {}", FaultClass::ALL.map(FaultClass::name).join(", "))),
            _ => Err("usage: fault-matrix [--changes N] [--class NAME]... [--seed S] [--world embedded|cloud|all]"
                .to_owned()),
        };
        if let Err(e) = parsed {
            eprintln!("fault-matrix: {arg}: {e}");
            return ExitCode::from(2);
        }
    }
    if classes.is_empty() {
        classes = FaultClass::ALL.to_vec();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!("seed {seed}, {changes} changes per class\n");
    println!(
        "| world | fault | changes | faults injected | runs (not ok) | lost | duplicates (in window) | parked → redriven | webhooks lost → recovered | forged / replayed accepted | panics | seconds |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut reports = Vec::new();
    let mut broken = Vec::new();
    let mut scenarios = Vec::new();
    if world != "cloud" {
        scenarios.extend(classes.iter().map(|c| ("embedded", *c)));
    }
    if world != "embedded" {
        scenarios.extend(classes.iter().filter(|c| fault::cloud::CLASSES.contains(c)).map(|c| ("cloud", *c)));
    }
    for (world, class) in scenarios {
        let report = if world == "embedded" {
            runtime.block_on(fault::run_embedded(class, changes, seed))
        } else {
            match runtime.block_on(fault::cloud::run_cloud(class, changes, seed)) {
                Some(r) => r,
                None => {
                    eprintln!(
                        "fault-matrix: moto is not installed; the cloud world is skipped (scripts/test.sh installs it)"
                    );
                    break;
                }
            }
        };
        println!(
            "| {} | {} | {} | {} | {} ({}) | {} | {} ({}) | {} → {} | {} → {} | {} / {} | {} | {:.1} |",
            report.world,
            class.name(),
            report.changes - report.unbuildable,
            report.faults_injected,
            report.runs,
            report.runs_not_ok,
            report.lost,
            report.duplicates,
            report.duplicates_in_window,
            report.parked,
            report.redriven,
            report.webhooks_lost,
            report.recovered_by_schedule,
            report.forged_accepted,
            report.replays_accepted,
            report.panics,
            report.seconds,
        );
        if let Err(e) = report.check() {
            broken.push(format!("{world}: {e}"));
        }
        reports.push(report);
    }
    let dir = fault::artifacts_dir();
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(&reports).unwrap());
    if broken.is_empty() {
        println!("\nevery promise kept");
        ExitCode::SUCCESS
    } else {
        for b in &broken {
            eprintln!("fault-matrix: {b}");
        }
        ExitCode::FAILURE
    }
}
