#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz + libFuzzer) of every parser that takes
# outside input: fuzz/fuzz_targets/{config,webhook,sqs,sns,asl}.rs.
#
#   scripts/fuzz.sh                    # each target 20 s, after replaying fuzz/regressions (the test command)
#   scripts/fuzz.sh --time 600         # each target 10 minutes (the long run of docs/reliability.md)
#   scripts/fuzz.sh --time 600 asl     # one target
#
# cargo-fuzz passes -Z flags to rustc; this toolchain is stable, so
# RUSTC_BOOTSTRAP=1 lets it accept them (no nightly toolchain is needed or
# fetched). The build is instrumented with SanitizerCoverage, debug
# assertions on (overflow checks), no AddressSanitizer: the targets are safe
# Rust and ASan would cost 2–3x the executions. Corpora grow in fuzz/corpus/
# (not committed); a crash is written to fuzz/artifacts/<target>/ and fails
# this script — copy it into fuzz/regressions/<target>/ once it is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

time=20
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time) time="$2"; shift 2 ;;
    -*) echo "usage: scripts/fuzz.sh [--time SECONDS] [TARGET...]" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(config webhook sqs sns asl)

CARGO_FUZZ_VERSION=0.13.2
tools="${REPOWATCH_VENVS:-$HOME/.cache/repowatch}/tools"
if [ "$("$tools/bin/cargo-fuzz" --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
  cargo install --quiet --locked "cargo-fuzz@$CARGO_FUZZ_VERSION" --root "$tools"
fi
export PATH="$tools/bin:$PATH" RUSTC_BOOTSTRAP=1

cd fuzz
cargo fuzz build --sanitizer none --debug-assertions

# Seeds: the repository's own samples, and where it is present (beside the
# repository, never copied into it) the conformance corpus's definitions.
seeds="$(mktemp -d -t repowatch-fuzz-seeds.XXXXXX)"
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$seeds"/{config,webhook,sqs,sns,asl}
cp ../repowatch.toml "$seeds/config/"
python3 - "$seeds" <<'PY'
import json, os, sys
seeds = sys.argv[1]
root = os.path.dirname(os.getcwd())
url = json.load(open(os.path.join(root, "events/github-webhook/push.json")))
open(os.path.join(seeds, "webhook/push"), "wb").write(b"\x00" + url["body"].encode())
open(os.path.join(seeds, "webhook/push-unsigned"), "wb").write(b"\x20" + url["body"].encode())
sqs = open(os.path.join(root, "events/dispatch-build/batch.json"), "rb").read()
open(os.path.join(seeds, "sqs/batch.json"), "wb").write(sqs)
alarm = {"AlarmName": "repowatch-dev-DlqDepthAlarm", "AlarmDescription": "builds parked", "NewStateValue": "ALARM",
         "NewStateReason": "Threshold Crossed", "StateChangeTime": "2026-11-24T08:00:00.000+0000",
         "Region": "Asia Pacific (Tokyo)", "OldStateValue": "OK",
         "Trigger": {"MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 1.0}}
sns = {"Records": [{"EventSource": "aws:sns", "Sns": {"Subject": "ALARM", "Message": json.dumps(alarm)}}]}
open(os.path.join(seeds, "sns/alarm.json"), "w").write(json.dumps(sns))
open(os.path.join(seeds, "asl/pipeline.json"), "wb").write(open(os.path.join(root, "statemachines/pipeline.asl.json"), "rb").read())
cases = os.path.join(root, "..", "shared", "asl-conformance", "cases.jsonl")
if os.path.exists(cases):
    seen = set()
    for line in open(cases):
        case = json.loads(line)
        text = json.dumps(case["definition"]) + "\0" + json.dumps(case["input"])
        if text not in seen:
            seen.add(text)
            open(os.path.join(seeds, "asl", "case-%d" % len(seen)), "w").write(text)
PY

status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  # Every crash found before, fixed since, replayed first.
  if compgen -G "regressions/$t/*" > /dev/null; then
    cargo fuzz run --sanitizer none --debug-assertions "$t" regressions/"$t"/* -- -runs=1 > /dev/null 2>&1 \
      || { echo "fuzz $t: a regression input fails again (fuzz/regressions/$t)" >&2; status=1; }
  fi
  log="$(mktemp -t repowatch-fuzz-log.XXXXXX)"
  if cargo fuzz run --sanitizer none --debug-assertions "$t" "corpus/$t" "$seeds/$t" -- \
      -max_total_time="$time" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 > "$log" 2>&1; then
    execs="$(awk '/stat::number_of_executed_units/ {print $2}' "$log")"
    cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)"
    echo "fuzz $t: ${time} s, ${execs:-?} executions, ${cov:-cov ?}, no crash"
  else
    echo "fuzz $t: FAILED — the input is in fuzz/artifacts/$t/; the last lines:" >&2
    tail -n 40 "$log" >&2
    status=1
  fi
  rm -f "$log"
done
exit $status
