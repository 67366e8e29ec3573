#!/usr/bin/env python3
"""Side-by-side report of repowatch-asl ("ours") and moto's Step Functions
interpreter on the ASL conformance corpus: pass counts from the corpus's own
scorer and per-case speed ratios. Produced by scripts/bench_asl_vs_moto.sh.

    asl_side_by_side.py --cases CASES --ours-results R1 --ours-timings T1 \\
        --moto-results R2 --moto-timings T2 [--json OUT]

Timings files: one line per case, {"id", "micros", ...}; moto's lines (from
scripts/bench/moto_sfn.py) also carry "status" and "engine_micros". Prints
Markdown on stdout; --json also writes the figures as JSON.

The speed ratio of a case is moto_micros / ours_micros (above 1: we are
faster). It is taken over the cases both engines timed and neither reported
SKIPPED; ours_micros is counted as at least 1 µs. The set "without Wait/Retry"
leaves out definitions with a Wait state or a Retry anywhere, where moto
sleeps in real time and we advance a fake clock. Standard library only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def load_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def has_wait_or_retry(node) -> bool:
    """Same test as moto_sfn.py: a Wait state or a Retry anywhere in the definition."""
    if isinstance(node, dict):
        if node.get("Type") == "Wait" or "Retry" in node:
            return True
        return any(has_wait_or_retry(v) for v in node.values())
    if isinstance(node, list):
        return any(has_wait_or_retry(v) for v in node)
    return False


def score(scorer, cases_path, results_path):
    """-> {passed, failed, skipped}, from the last line of score.py's output."""
    proc = subprocess.run([sys.executable, scorer, cases_path, results_path],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        sys.exit(f"score.py failed on {results_path} ({proc.returncode}): {proc.stderr.strip()}")
    words = lines[-1].split()  # "N passed, N failed, N skipped"
    try:
        return {"passed": int(words[0]), "failed": int(words[2]), "skipped": int(words[4])}
    except (IndexError, ValueError):
        sys.exit(f"unexpected last line from score.py: {lines[-1]!r}")


def timings_by_id(path):
    return {t["id"]: t for t in load_jsonl(path) if isinstance(t.get("micros"), (int, float))}


def stats(pairs):
    """pairs: [(id, ours_micros, moto_micros)] -> ratio figures, or None when empty."""
    if not pairs:
        return None
    ratios = sorted((moto / max(ours, 1), cid) for cid, ours, moto in pairs)
    values = [r for r, _ in ratios]
    if len(values) >= 2:
        deciles = statistics.quantiles(values, n=10, method="inclusive")
        p10, p90 = deciles[0], deciles[8]
    else:
        p10 = p90 = values[0]
    return {
        "cases": len(values),
        "ratio_median": statistics.median(values),
        "ratio_p10": p10,
        "ratio_p90": p90,
        "ratio_min": values[0],
        "ratio_min_case": ratios[0][1],
        "ratio_max": values[-1],
        "ratio_max_case": ratios[-1][1],
        "ours_median_micros": statistics.median(o for _, o, _ in pairs),
        "moto_median_micros": statistics.median(m for _, _, m in pairs),
    }


def fmt_ratio(x):
    return f"{x:,.0f}×" if x >= 100 else f"{x:,.1f}×" if x >= 10 else f"{x:,.2f}×"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", required=True)
    ap.add_argument("--ours-results", required=True)
    ap.add_argument("--ours-timings", required=True)
    ap.add_argument("--moto-results", required=True)
    ap.add_argument("--moto-timings", required=True)
    ap.add_argument("--score", help="the scorer (default: score.py beside CASES)")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON to OUT")
    args = ap.parse_args()
    scorer = args.score or os.path.join(os.path.dirname(os.path.abspath(args.cases)), "score.py")

    cases = load_jsonl(args.cases)
    waity = {c["id"]: has_wait_or_retry(c.get("definition")) for c in cases}
    pure = [c for c in cases if c.get("category") == "pure"]

    # Pass counts over every case, and over the cases with no Task state: the
    # Lambda Tasks are resolved differently (ours replays AWS's recorded results;
    # moto's docker-less Lambda echoes the payload), so only the pure subset is
    # like for like.
    figures = {"cases": len(cases), "pure_cases": len(pure)}
    with tempfile.TemporaryDirectory(prefix="asl-side-by-side-") as tmp:
        pure_path = os.path.join(tmp, "pure-cases.jsonl")
        with open(pure_path, "w", encoding="utf-8") as f:
            for c in pure:
                f.write(json.dumps(c) + "\n")
        for who, results in (("ours", args.ours_results), ("moto", args.moto_results)):
            figures[who] = {"all": score(scorer, args.cases, results),
                            "pure": score(scorer, pure_path, results)}

    skipped = set()
    for path in (args.ours_results, args.moto_results):
        skipped |= {r["id"] for r in load_jsonl(path) if r.get("status") == "SKIPPED"}
    ours_t, moto_t = timings_by_id(args.ours_timings), timings_by_id(args.moto_timings)
    pairs = [(c["id"], ours_t[c["id"]]["micros"], moto_t[c["id"]]["micros"]) for c in cases
             if c["id"] in ours_t and c["id"] in moto_t and c["id"] not in skipped]
    figures["speed_all"] = stats(pairs)
    figures["speed_no_wait_retry"] = stats([p for p in pairs if not waity.get(p[0])])
    # Ours with the definition loaded once (how repowatch's engine runs it):
    # the execution alone against moto's StartExecution-to-end.
    exec_pairs = [(i, ours_t[i].get("exec_micros"), m) for i, _, m in pairs
                  if isinstance(ours_t[i].get("exec_micros"), (int, float))]
    figures["speed_exec_only"] = stats(exec_pairs)
    figures["speed_exec_only_no_wait_retry"] = stats([p for p in exec_pairs if not waity.get(p[0])])
    figures["moto_capped"] = sum(1 for t in moto_t.values() if t.get("status") == "TIMED_OUT_BY_HARNESS")
    engine = [t["engine_micros"] for t in moto_t.values() if isinstance(t.get("engine_micros"), (int, float))]
    figures["moto_engine_median_micros"] = statistics.median(engine) if engine else None

    out = ["# repowatch-asl vs moto 5.2.5 Step Functions on the ASL conformance corpus", ""]
    out += ["| | ours | moto |", "|---|---|---|"]
    for key, label in (("all", f"all {len(cases)} cases"), ("pure", f"{len(pure)} cases without Task states")):
        o, m = figures["ours"][key], figures["moto"][key]
        out.append(f"| passed / failed / skipped, {label} | {o['passed']} / {o['failed']} / {o['skipped']}"
                   f" | {m['passed']} / {m['failed']} / {m['skipped']} |")
    out += ["", "Lambda Task cases: ours replays AWS's recorded Task results; moto's docker-less"
            " Lambda returns the request payload, so only the second row compares like with like.", ""]
    out += ["Speed ratio per case, moto µs / ours µs (above 1: ours is faster):", "",
            "| cases | n | median | p10 | p90 | min (worst for us) | max | ours median µs | moto median µs |",
            "|---|---|---|---|---|---|---|---|---|"]
    for key, label in (("speed_all", "load + execute, both timed, none skipped"),
                       ("speed_no_wait_retry", "… without Wait/Retry"),
                       ("speed_exec_only", "execute only (definition loaded once)"),
                       ("speed_exec_only_no_wait_retry", "… without Wait/Retry")):
        s = figures[key]
        if s is None:
            out.append(f"| {label} | 0 | | | | | | | |")
            continue
        out.append(f"| {label} | {s['cases']} | {fmt_ratio(s['ratio_median'])} | {fmt_ratio(s['ratio_p10'])}"
                   f" | {fmt_ratio(s['ratio_p90'])} | {fmt_ratio(s['ratio_min'])} | {fmt_ratio(s['ratio_max'])}"
                   f" | {s['ours_median_micros']:,.0f} | {s['moto_median_micros']:,.0f} |")
    out.append("")
    s = figures["speed_all"]
    if s:
        out += [f"- worst case for us (min ratio): `{s['ratio_min_case']}`",
                f"- best case for us (max ratio): `{s['ratio_max_case']}`"]
    out += [f"- moto cases stopped at the harness's wall-clock cap (counted FAILED, timed at the cap):"
            f" {figures['moto_capped']}",
            "- moto sleeps in real time on Wait states and Retry intervals; ours runs them on a fake clock.",
            "- ours µs: the median of 5 timed repetitions of each case, after one untimed run of it.",
            "- moto µs: StartExecution call until the execution is terminal (in-process boto3 + moto.mock_aws)."]
    if figures["moto_engine_median_micros"] is not None:
        out.append(f"- moto's own startDate→stopDate, median over its timed cases:"
                   f" {figures['moto_engine_median_micros']:,.0f} µs")
    print("\n".join(out))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
