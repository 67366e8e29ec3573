#!/usr/bin/env bash
# Benchmarks the States Language interpreter against moto's (moto 5.2.5, whose
# Step Functions interpreter is a port of LocalStack's) on the AWS-recorded
# conformance corpus (../shared/asl-conformance, kept outside this repository):
# pass counts from the corpus's scorer, and per-case speed ratios, as Markdown.
#
#   scripts/bench_asl_vs_moto.sh [OUT_DIR]
#
# With OUT_DIR, both engines' results and timings and the report (report.md,
# report.json) are kept there; without, they go to a temp dir that is removed.
# Both engines run one after the other in this one invocation, so they see the
# same machine load; numbers from a busy machine are not worth comparing.
set -euo pipefail
cd "$(dirname "$0")/.."

corpus="../shared/asl-conformance"
if [ ! -f "$corpus/cases.jsonl" ]; then
  echo "bench_asl_vs_moto: $corpus/cases.jsonl not found (it lives beside the repository, not in it): skipped"
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "bench_asl_vs_moto: python3 is missing (moto and the report need it): skipped"
  exit 0
fi

if [ -n "${1:-}" ]; then
  tmp="$1"
  mkdir -p "$tmp"
else
  tmp="$(mktemp -d -t repowatch-asl-bench.XXXXXX)"
  trap 'rm -rf "$tmp"' EXIT
fi

# moto from the same cached venv the AWS adapter tests use (scripts/test.sh).
. scripts/lib/venvs.sh
pip_tools venv "moto[server]==5.2.5"

# Ours first: --release, since the comparison is about speed; the example
# times each case itself, so the build does not count.
cargo run --locked -q --release -p repowatch-asl --example conformance -- \
  "$corpus/cases.jsonl" "$tmp/ours.jsonl" --timings "$tmp/ours-times.jsonl"

# moto in-process (moto.mock_aws); it sleeps for real on Wait and Retry, and a
# case still running after --cap seconds counts as failed.
"$venvs/venv/bin/python" scripts/bench/moto_sfn.py \
  "$corpus/cases.jsonl" "$tmp/moto.jsonl" "$tmp/moto-times.jsonl" --cap 10

python3 scripts/bench/asl_side_by_side.py --cases "$corpus/cases.jsonl" \
  --ours-results "$tmp/ours.jsonl" --ours-timings "$tmp/ours-times.jsonl" \
  --moto-results "$tmp/moto.jsonl" --moto-timings "$tmp/moto-times.jsonl" \
  --json "$tmp/report.json" | tee "$tmp/report.md"
