#!/usr/bin/env python3
"""Benchmark: one `repowatch run` over N local-git datasources with 10 % changed,
then the worker draining the resulting builds with a no-op command.

Reports wall time, peak RSS (of the repowatch process) and time per datasource,
side by side with the floor that any git-based detector pays: one
`git for-each-ref` per repository, run serially in the same session.

    cargo build --release -p repowatch
    python3 scripts/bench_pipeline.py [--datasources 1000] [--changed 0.1] [--rounds 3]

Standard library and GNU time (/usr/bin/time, Debian package `time`) only;
everything happens in a temp dir on this machine.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "repowatch")
GIT_ENV = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
               GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@repowatch.invalid",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@repowatch.invalid")


def git(repo, *args):
    subprocess.run(["git", "-C", repo, *args], check=True, env=GIT_ENV,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_repos(base, n):
    repos = []
    for i in range(n):
        repo = os.path.join(base, f"repo{i:04d}")
        os.makedirs(repo)
        git(repo, "init", "-q", "-b", "main")
        with open(os.path.join(repo, "file.txt"), "w") as f:
            f.write("0\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "init")
        repos.append(repo)
    return repos


def commit(repo, n):
    with open(os.path.join(repo, "file.txt"), "a") as f:
        f.write(f"{n}\n")
    git(repo, "commit", "-q", "-am", f"change {n}")


def write_config(base, repos):
    lines = ['[settings]', 'state_dir = "state"', '']
    for i, repo in enumerate(repos):
        lines += ['[[datasources]]', f'id = "ds{i:04d}"', f'path = "{repo}"',
                  'watch = ["branch:main"]', 'targets = ["noop"]', '']
    lines += ['[targets.noop]', 'kind = "command"', 'command = ["true"]', 'timeout = "1m"']
    path = os.path.join(base, "repowatch.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def timed(cmd, cwd):
    """Wall seconds and peak RSS (MiB) of one process, measured by GNU time
    (wait4's ru_maxrss: the largest of the process and the children it reaped)."""
    rss_file = os.path.join(cwd, "maxrss")
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file, *cmd], cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    with open(rss_file) as f:
        peak_kib = int(f.read().strip().splitlines()[-1])
    return wall, peak_kib / 1024, proc.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasources", type=int, default=1000)
    ap.add_argument("--changed", type=float, default=0.1)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} is missing: cargo build --release -p repowatch")

    base = tempfile.mkdtemp(prefix="repowatch-bench-")
    try:
        t0 = time.perf_counter()
        repos = make_repos(os.path.join(base, "repos"), args.datasources)
        write_config(base, repos)
        print(f"setup: {len(repos)} repositories in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        timed([BIN, "run"], base)  # baseline: first sight of every datasource

        changed = max(1, int(len(repos) * args.changed))
        runs, drains, floors = [], [], []
        peak_run = peak_drain = 0.0
        for r in range(args.rounds):
            for repo in repos[:changed]:
                commit(repo, r + 1)
            start = time.perf_counter()
            for repo in repos:
                subprocess.run(["git", "-C", repo, "for-each-ref", "--format=%(refname)%00%(objectname)%00%(*objectname)",
                                "refs/heads", "refs/tags"], check=True, env=GIT_ENV, stdout=subprocess.DEVNULL)
            floors.append(time.perf_counter() - start)

            wall, peak, out = timed([BIN, "--json", "run"], base)
            summary = json.loads(out)["run"]["summary"]
            assert summary["totals"]["builds_queued"] == changed, summary["totals"]
            runs.append(wall)
            peak_run = max(peak_run, peak)

            wall, peak, out = timed([BIN, "--json", "worker", "--once"], base)
            results = json.loads(out)["results"]
            assert sum(1 for x in results if x["outcome"] == "dispatched") == changed, len(results)
            drains.append(wall)
            peak_drain = max(peak_drain, peak)

        # The commands' own time: `true` spawned `changed` times, serially.
        start = time.perf_counter()
        for _ in range(changed):
            subprocess.run(["true"], check=True)
        commands = time.perf_counter() - start

        run, drain, floor = statistics.median(runs), statistics.median(drains), statistics.median(floors)
        n = len(repos)
        print(json.dumps({
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
            "datasources": n, "changed": changed, "rounds": args.rounds,
            "run_wall_s": round(run, 3), "run_per_datasource_ms": round(run / n * 1000, 3),
            "run_peak_rss_mib": round(peak_run, 1),
            "git_floor_serial_s": round(floor, 3), "run_over_floor": round(run / floor, 2),
            "drain_wall_s": round(drain, 3), "drain_peak_rss_mib": round(peak_drain, 1),
            "drain_commands_own_s": round(commands, 3), "drain_overhead_s": round(drain - commands, 3),
            "runs_s": [round(x, 3) for x in runs], "drains_s": [round(x, 3) for x in drains],
        }, indent=2))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
