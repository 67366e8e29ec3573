#!/usr/bin/env python3
"""Runs the ASL conformance corpus (../shared/asl-conformance/cases.jsonl)
through moto's Step Functions interpreter, the reference repowatch-asl is
benchmarked against (scripts/bench_asl_vs_moto.sh).

    moto_sfn.py CASES RESULTS TIMINGS [--cap SECONDS] [--limit N]

Needs moto (moto[server]==5.2.5, the venv scripts/test.sh installs); run it with
that venv's python. Everything is in-process (moto.mock_aws), nothing listens
on the network.

RESULTS: one line per case in score.py's format ({id, status, output, error,
cause}, plus "reason" for SKIPPED and for harness failures).
TIMINGS: one line per case {id, micros, status, has_wait_or_retry,
engine_micros}: `micros` is wall time (time.perf_counter) from the
StartExecution call until the execution is seen in a terminal state;
`engine_micros` is moto's own stopDate - startDate for the execution (set in
its worker thread, so free of API and polling overhead). Both are null when
the case never ran to a terminal state.

How moto is driven, and why (all of it read from moto 5.2.5's source):
* `stepfunctions.execute_state_machine` switches moto from its canned
  "always succeeds" execution to its interpreter (moto/stepfunctions/parser, a
  port of LocalStack's), which runs each execution on a daemon thread.
* `lambda.use_docker: False` selects moto's LambdaSimpleBackend: an invoke
  needs no deployed function and returns the request payload (like the
  corpus's id_function.py), so Lambda Task cases run, and the scorer judges
  what that gives. Deploying functions would change nothing (the simple
  backend never looks them up), and moto cannot run LocalStack's handlers.
* MOTO_ACCOUNT_ID=111111111111: moto takes the account from that variable
  first, so ARNs carry the corpus's account.
* moto really sleeps on Wait states (an Event wait) and Retry intervals
  (time.sleep), and has no fake clock: that is measured as it is, and each
  timing line says whether the definition has a Wait state or a Retry, so the
  report can leave those out.
* Terminal state is detected by polling the backend's describe_execution
  in-process (microseconds per poll, with short sleeps so the poller does not
  hold the GIL the worker thread needs); the result is then read once through
  the boto3 DescribeExecution API, outside the timed span, as a client would.
  Polling through boto3 costs ~1 ms a call and would slow the worker down.
* One untimed warm-up execution (and one Lambda client) before the first case
  loads moto's ASL parser and botocore's service models: one-time start-up
  costs that would otherwise land on whichever case comes first.
* The README's rule for a Lambda Task whose behaviour is not recorded (no
  task_events, no lambdas entry) is applied as the repowatch runner applies
  it: such a case is SKIPPED, for both engines. Expected ABORTED cases (none
  in this corpus) are skipped likewise: neither runner calls StopExecution.
* A case still RUNNING after --cap seconds is stopped (StopExecution) and
  written as FAILED with error Harness.TimedOut (timings status
  TIMED_OUT_BY_HARNESS). Any exception in a case is a FAILED line with error
  Harness.Exception and the exception as cause.
"""

import argparse
import json
import logging
import os
import statistics
import sys
import time
import traceback

ACCOUNT = "111111111111"
REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/snf_role"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}

# Before moto or boto3 are imported: moto reads the account per request from
# MOTO_ACCOUNT_ID; boto3 needs a region and (fake) credentials.
os.environ["MOTO_ACCOUNT_ID"] = ACCOUNT
os.environ["AWS_DEFAULT_REGION"] = REGION
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.pop("AWS_PROFILE", None)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402


def has_wait_or_retry(node) -> bool:
    """True when the definition has a Wait state or a Retry anywhere (moto sleeps for real there)."""
    if isinstance(node, dict):
        if node.get("Type") == "Wait" or "Retry" in node:
            return True
        return any(has_wait_or_retry(v) for v in node.values())
    if isinstance(node, list):
        return any(has_wait_or_retry(v) for v in node)
    return False


def unrecorded_lambda(case) -> bool:
    """The README's SKIPPED rule: a Lambda Task case with neither task_events nor a lambdas entry."""
    return (bool(case.get("task_resources")) and not case.get("task_events")
            and not case.get("lambdas"))


def parse_output(text):
    """DescribeExecution's output is JSON text; moto 5.2.5 returns a final *string* value raw
    (no quotes), which is not JSON. Then the string itself is taken as the value (the
    reading most favourable to moto) and the case is flagged."""
    if text is None:
        return None, False
    try:
        return json.loads(text), False
    except json.JSONDecodeError:
        return text, True


class Runner:
    def __init__(self, cap: float):
        self.cap = cap
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        # moto's parser backend, for cheap in-process polling of the status.
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends
        self.backend = stepfunctions_parser_backends[ACCOUNT][REGION]

    def warm_up(self):
        boto3.client("lambda", region_name=REGION)
        definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
        arn = self.sfn.create_state_machine(name="warm-up", definition=json.dumps(definition),
                                            roleArn=ROLE_ARN)["stateMachineArn"]
        ex = self.sfn.start_execution(stateMachineArn=arn, name="warm-up", input="{}")["executionArn"]
        deadline = time.perf_counter() + 30
        while self.backend.describe_execution(ex).status == "RUNNING" and time.perf_counter() < deadline:
            time.sleep(0.001)
        self.sfn.delete_state_machine(stateMachineArn=arn)

    def wait_terminal(self, arn: str, t0: float):
        """Poll until not RUNNING or past the cap; -> (status, seconds since t0)."""
        delay = 0.0001
        while True:
            status = self.backend.describe_execution(arn).status
            now = time.perf_counter()
            if status != "RUNNING":
                return status, now - t0
            if now - t0 > self.cap:
                return None, now - t0
            # Resolution stays within ~2 % of the elapsed time (and ≤ 2 ms).
            time.sleep(min(0.002, max(delay, (now - t0) / 50)))

    def run(self, index: int, case: dict):
        """-> (result line, timing line, flags)"""
        cid = case["id"]
        flags = {}
        timing = {"id": cid, "micros": None, "status": None,
                  "has_wait_or_retry": has_wait_or_retry(case.get("definition")),
                  "engine_micros": None}
        if case.get("expected", {}).get("status") == "ABORTED":
            reason = "the execution was stopped by StopExecution; the runner has no stop hook"
            timing["status"] = "SKIPPED"
            return {"id": cid, "status": "SKIPPED", "output": None, "error": None, "cause": None,
                    "reason": reason}, timing, flags
        if unrecorded_lambda(case):
            timing["status"] = "SKIPPED"
            return {"id": cid, "status": "SKIPPED", "output": None, "error": None, "cause": None,
                    "reason": "a Task has neither recorded events nor a known Lambda handler"}, timing, flags

        sm_arn = None
        try:
            sm_type = case.get("state_machine_type") or "STANDARD"
            sm_arn = self.sfn.create_state_machine(
                name=f"conformance-{index:04d}", definition=json.dumps(case["definition"]),
                roleArn=ROLE_ARN, type=sm_type)["stateMachineArn"]
            t0 = time.perf_counter()
            ex_arn = self.sfn.start_execution(stateMachineArn=sm_arn, name=f"exec-{index:04d}",
                                              input=json.dumps(case.get("input")))["executionArn"]
            status, elapsed = self.wait_terminal(ex_arn, t0)
            if status is None:
                timing.update(micros=round(elapsed * 1e6), status="TIMED_OUT_BY_HARNESS")
                try:
                    self.sfn.stop_execution(executionArn=ex_arn)
                except Exception:  # noqa: BLE001 - best effort; the line is written either way
                    pass
                return {"id": cid, "status": "FAILED", "output": None, "error": "Harness.TimedOut",
                        "cause": f"still RUNNING after {self.cap:g} s of real time",
                        "reason": "TIMED_OUT_BY_HARNESS"}, timing, flags
            timing.update(micros=round(elapsed * 1e6), status=status)
            ex = self.backend.describe_execution(ex_arn)
            if ex.start_date and ex.stop_date:
                timing["engine_micros"] = round((ex.stop_date - ex.start_date).total_seconds() * 1e6)
            # The result, through the API a moto user reads it with.
            d = self.sfn.describe_execution(executionArn=ex_arn)
            output, raw = parse_output(d.get("output")) if status == "SUCCEEDED" else (None, False)
            if raw:
                flags["output_not_json"] = True
            return {"id": cid, "status": d["status"], "output": output,
                    "error": d.get("error"), "cause": d.get("cause")}, timing, flags
        except Exception as e:  # noqa: BLE001 - every failure of moto is a failed case
            timing["status"] = timing["status"] or "EXCEPTION"
            flags["exception"] = True
            cause = f"{type(e).__name__}: {e}"
            return {"id": cid, "status": "FAILED", "output": None, "error": "Harness.Exception",
                    "cause": cause[:2000], "reason": "".join(
                        traceback.format_exception_only(type(e), e)).strip()[:2000]}, timing, flags
        finally:
            if sm_arn:
                try:  # keep the backend small: later cases must not pay for earlier ones
                    self.sfn.delete_state_machine(stateMachineArn=sm_arn)
                except Exception:  # noqa: BLE001
                    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases")
    ap.add_argument("results")
    ap.add_argument("timings")
    ap.add_argument("--cap", type=float, default=10.0, help="per-case wall-clock cap in seconds (default 10)")
    ap.add_argument("--limit", type=int, default=None, help="run only the first N cases")
    args = ap.parse_args()

    # moto's interpreter logs every runtime error at ERROR (with large reprs) to stderr
    # through logging's last-resort handler; a library user would not see that either.
    logging.getLogger("moto").setLevel(logging.CRITICAL + 1)

    with open(args.cases, encoding="utf-8") as f:
        cases = [json.loads(line) for line in f if line.strip()]
    if args.limit is not None:
        cases = cases[:args.limit]

    started = time.perf_counter()
    counts, flags_total, timings = {}, {}, []
    with mock_aws(config=MOTO_CONFIG), \
            open(args.results, "w", encoding="utf-8") as res_out, \
            open(args.timings, "w", encoding="utf-8") as tim_out:
        runner = Runner(args.cap)
        runner.warm_up()
        for index, case in enumerate(cases):
            result, timing, flags = runner.run(index, case)
            res_out.write(json.dumps(result) + "\n")
            tim_out.write(json.dumps(timing) + "\n")
            res_out.flush()
            tim_out.flush()
            key = timing["status"]
            counts[key] = counts.get(key, 0) + 1
            for k in flags:
                flags_total[k] = flags_total.get(k, 0) + 1
            timings.append(timing)
            if timing["status"] in ("TIMED_OUT_BY_HARNESS", "EXCEPTION"):
                print(f"[{index + 1}/{len(cases)}] {timing['status']}: {case['id']}", file=sys.stderr)
            elif (index + 1) % 100 == 0:
                print(f"[{index + 1}/{len(cases)}] {time.perf_counter() - started:.1f} s", file=sys.stderr)

    def median(xs):
        return round(statistics.median(xs)) if xs else None

    timed = [t for t in timings if t["micros"] is not None]
    plain = [t for t in timed if not t["has_wait_or_retry"]]
    summary = {
        "cases": len(cases),
        "wall_s": round(time.perf_counter() - started, 1),
        "statuses": dict(sorted(counts.items())),
        "harness_flags": flags_total,
        "median_micros": median([t["micros"] for t in timed]),
        "median_micros_no_wait_retry": median([t["micros"] for t in plain]),
        "median_engine_micros": median([t["engine_micros"] for t in timed if t["engine_micros"] is not None]),
        "timed_cases": len(timed),
        "timed_cases_no_wait_retry": len(plain),
        "cap_s": args.cap,
    }
    print(json.dumps(summary), file=sys.stderr)


if __name__ == "__main__":
    main()
