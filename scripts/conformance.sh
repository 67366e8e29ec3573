#!/usr/bin/env bash
# Runs the States Language interpreter over the AWS-recorded conformance corpus
# (../shared/asl-conformance, kept outside this repository) and fails when
# fewer cases pass (or fewer recorded state traces match) than the floors in
# crates/repowatch-asl/conformance-floor.
# Raise the floor as the pass rate rises.
#
#   scripts/conformance.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."

corpus="../shared/asl-conformance"
if [ ! -f "$corpus/cases.jsonl" ]; then
  echo "conformance: $corpus/cases.jsonl not found (it lives beside the repository, not in it): skipped"
  exit 0
fi
profile=()
[ "${1:-}" = "--release" ] && profile=(--release)

results="$(mktemp -t repowatch-conformance.XXXXXX)"
trap 'rm -f "$results"' EXIT
run_out="$(cargo run --locked -q "${profile[@]}" -p repowatch-asl --example conformance -- "$corpus/cases.jsonl" "$results")"
echo "$run_out"
last="$(python3 "$corpus/score.py" "$corpus/cases.jsonl" "$results" | tail -n 1)"
passed="$(echo "$last" | awk '{print $1}')"
traces="$(echo "$run_out" | awk '/^state traces:/ {print $3}')"
floor_file=crates/repowatch-asl/conformance-floor
floor="$(awk '$1 == "cases" {print $2}' "$floor_file")"
trace_floor="$(awk '$1 == "traces" {print $2}' "$floor_file")"
echo "conformance: $last (floor $floor); state traces matching: $traces (floor $trace_floor)"
if [ "$passed" -lt "$floor" ]; then
  echo "conformance: $passed passed, below the floor of $floor" >&2
  python3 "$corpus/score.py" "$corpus/cases.jsonl" "$results" --verbose | tail -n 60 >&2
  exit 1
fi
if [ "${traces:-0}" -lt "$trace_floor" ]; then
  echo "conformance: $traces state traces match, below the floor of $trace_floor (run the example with --traces)" >&2
  exit 1
fi
