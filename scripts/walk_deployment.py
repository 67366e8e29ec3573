#!/usr/bin/env python3
"""Walks docs/deployment.md as a new user would: every command in its shell
blocks either runs here (offline), exactly as written, or is named with the
reason it cannot (it needs an AWS account) and what checks it instead.

A command this script does not know fails the walk, so a new line in the guide
is classified before it lands. The Japanese guide (docs/ja/deployment.md) must
give the same commands in the same order (comments and <placeholders> aside).

Run by scripts/test.sh after the Python tools are installed. Usage:
    scripts/walk_deployment.py            # from the checkout's root
Environment: REPOWATCH_SKIP_SAM_BUILD=1 also notes that `sam build` was skipped.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs/deployment.md"
GUIDE_JA = ROOT / "docs/ja/deployment.md"
# The stand-in for a stack output read with the AWS CLI, e.g. the table name.
STACK_OUTPUT = "repowatch-dev-Table-EXAMPLE"


class WalkError(Exception):
    pass


def blocks(path: Path, lang: tuple[str, ...]) -> list[tuple[int, str]]:
    """(first line number, text) of every fenced block in one of `lang`."""
    out, current, start = [], None, 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if current is None:
            m = re.match(r"^```(\w+)\s*$", line)
            if m and m.group(1) in lang:
                current, start = [], number + 1
        elif line.startswith("```"):
            out.append((start, "\n".join(current)))
            current = None
        else:
            current.append(line)
    if current is not None:
        raise WalkError(f"{path}:{start}: a code block is not closed")
    return out


def commands(path: Path) -> list[tuple[int, str]]:
    """(line number, command) of every shell command: continuations joined, comments dropped."""
    out = []
    for start, text in blocks(path, ("sh", "bash", "shell")):
        pending, first = "", 0
        for offset, line in enumerate(text.splitlines()):
            if not pending:
                first = start + offset
            stripped = strip_comment(line).rstrip()
            if stripped.endswith("\\"):
                pending += stripped[:-1].rstrip() + " "
                continue
            command = (pending + stripped).strip()
            pending = ""
            if command:
                out.append((first, re.sub(r"\s+", " ", command)))
    return out


def strip_comment(line: str) -> str:
    """The line without a trailing `# comment` (outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def normalised(command: str) -> str:
    return re.sub(r"<[^>]*>", "<…>", command)


def run(command: str, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise WalkError(f"`{command}` exited {result.returncode}:\n{output}")
    return output


def last_line(output: str) -> str:
    lines = [l for l in output.splitlines() if l.strip()]
    return lines[-1] if lines else "(no output)"


def template_parameters(path: Path) -> set[str]:
    """Parameter names of a CloudFormation template (YAML, read without a YAML library)."""
    names, inside = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if re.match(r"^Parameters:\s*$", line):
            inside = True
        elif inside and re.match(r"^\S", line):
            break
        elif inside and (m := re.match(r"^  (\w+):\s*$", line)):
            names.add(m.group(1))
    return names


def walk(user: Path) -> list[str]:
    report: list[str] = []
    ours, theirs = commands(GUIDE), commands(GUIDE_JA)
    if [normalised(c) for _, c in ours] != [normalised(c) for _, c in theirs]:
        en = "\n  ".join(normalised(c) for _, c in ours)
        ja = "\n  ".join(normalised(c) for _, c in theirs)
        raise WalkError(f"docs/ja/deployment.md gives other commands than docs/deployment.md:\n en:\n  {en}\n ja:\n  {ja}")
    if len(ours) < 10:
        raise WalkError(f"only {len(ours)} commands found in {GUIDE}; did the fences change?")

    install_root = user / "install"
    env = dict(os.environ, SAM_CLI_TELEMETRY="0")
    env.pop("AWS_REGION", None)
    env.pop("AWS_DEFAULT_REGION", None)
    # The guide's repowatch.toml for AWS, where its commands run.
    tomls = blocks(GUIDE, ("toml",))
    if len(tomls) != 1:
        raise WalkError(f"{GUIDE} should hold one ```toml block (the repowatch.toml for AWS), found {len(tomls)}")
    (user / "repowatch.toml").write_text(tomls[0][1] + "\n", encoding="utf-8")
    samconfig = (ROOT / "samconfig.toml").read_text(encoding="utf-8")

    def ran(line: int, command: str, note: str, output: str) -> None:
        report.append(f"ran      {GUIDE.name}:{line}: {command}\n         {note}{last_line(output)}")

    def aws(line: int, command: str, instead: str) -> None:
        report.append(f"needs AWS {GUIDE.name}:{line}: {command}\n         instead: {instead}")

    for line, command in ours:
        if m := re.fullmatch(r"python3 -m venv (\S+) && \1/bin/pip install (\S+==\S+)", command):
            venvs = (ROOT / "scripts/lib/venvs.sh").read_text(encoding="utf-8")
            if f'"{m.group(2)}"' not in venvs:
                raise WalkError(f"{GUIDE.name}:{line}: {m.group(2)} is not the version scripts/lib/venvs.sh pins")
            ran(line, command, "", run(command, ROOT, env))
        elif command == "rustup target add aarch64-unknown-linux-gnu":
            ran(line, command, "", run(command, ROOT, env))
        elif m := re.fullmatch(r'export PATH="([^"]+)"', command):
            env["PATH"] = os.path.expandvars(m.group(1).replace("$PATH", env["PATH"]))
            for tool in ("sam", "cargo-lambda"):
                if run(f"command -v {tool}", ROOT, env) == "":
                    raise WalkError(f"{GUIDE.name}:{line}: {tool} is not on the PATH the guide sets")
            report.append(f"ran      {GUIDE.name}:{line}: {command}\n         sam and cargo-lambda are on it")
        elif command == "sam validate --lint --config-env dev":
            ran(line, command, "", run(command, ROOT, env))
        elif command == "sam build --beta-features":
            script = (ROOT / "scripts/sam_build.sh").read_text(encoding="utf-8")
            if "sam build --beta-features" not in script:
                raise WalkError("scripts/sam_build.sh no longer runs `sam build --beta-features` as the guide says")
            skipped = " (skipped in this run: REPOWATCH_SKIP_SAM_BUILD)" if os.environ.get("REPOWATCH_SKIP_SAM_BUILD") else ""
            report.append(f"ran      {GUIDE.name}:{line}: {command}\n         by scripts/sam_build.sh in the test command{skipped}")
        elif m := re.fullmatch(r"sam deploy --config-env (\w+)", command):
            if f"[{m.group(1)}.deploy.parameters]" not in samconfig:
                raise WalkError(f"{GUIDE.name}:{line}: samconfig.toml has no [{m.group(1)}.deploy.parameters]")
            aws(line, command, f"samconfig.toml has [{m.group(1)}.deploy.parameters]; the template passes sam validate --lint")
        elif command == "cargo install --path crates/repowatch --features aws":
            # As written, plus: into a scratch root, reusing this checkout's build (debug) instead of a release build.
            extra = f" --locked --debug --target-dir {shlex.quote(str(ROOT / 'target'))} --root {shlex.quote(str(install_root))}"
            output = "\n".join(l for l in run(command + extra, ROOT, env).splitlines() if "Installed" in l or "Replaced" in l)
            env["PATH"] = f"{install_root / 'bin'}:{env['PATH']}"
            ran(line, command, f"(with{extra.replace(str(ROOT), '.').replace(str(user), '$tmp')}) ", output)
        elif command == "repowatch validate":
            ran(line, command, "in a directory holding the guide's repowatch.toml: ", run(command, user, env))
        elif m := re.fullmatch(r'repowatch sync --dry-run --table "\$\(aws cloudformation describe-stacks [^)]*\)"', command):
            stand_in = f"repowatch sync --dry-run --table {STACK_OUTPUT}"
            ran(line, command, f"as `{stand_in}` (the table name is a stack output): ", run(stand_in, user, env))
        elif re.fullmatch(r"repowatch sync --table <[^>]+>", command):
            aws(line, command, "crates/repowatch/tests/sync_aws.rs runs the same write against moto")
        elif m := re.fullmatch(r"\./scripts/smoke\.sh (\S+)", command):
            run("bash -n scripts/smoke.sh", ROOT, env)
            aws(line, command, "scripts/smoke.sh parses (bash -n); the deploy workflow runs it after each dev deploy")
        elif m := re.fullmatch(r"aws ssm put-parameter --type SecureString --name (/\S+) --value .+", command):
            # The name must be what the dev stack reads: a parameter or under a path samconfig.toml gives it.
            overrides = re.search(r"\[dev\.deploy\.parameters\][^\[]*parameter_overrides = \"(.*)\"", samconfig)
            paths = re.findall(r'(\w+(?:Parameter|Path))=\\"([^\\"]+)\\"', overrides.group(1) if overrides else "")
            reader = next((k for k, v in paths if m.group(1) == v or m.group(1).startswith(v + "/")), None)
            if reader is None:
                raise WalkError(f"{GUIDE.name}:{line}: {m.group(1)} is none of the SSM names the dev stack reads: {paths}")
            aws(line, command, f"{m.group(1)} is what the dev stack reads ({reader} in samconfig.toml)")
        elif m := re.fullmatch(r"aws cloudformation deploy --template-file (\S+) .*--parameter-overrides ((?:\w+=\S+ ?)+)", command):
            template = ROOT / m.group(1)
            declared = template_parameters(template)
            given = {p.split("=", 1)[0] for p in m.group(2).split()}
            if not given <= declared:
                raise WalkError(f"{GUIDE.name}:{line}: {m.group(1)} has no parameter(s) {sorted(given - declared)}")
            aws(line, command, f"{m.group(1)} declares {', '.join(sorted(given))}; cfn-lint and checkov pass on it")
        elif re.fullmatch(r"git checkout <[^>]+> && sam build --beta-features && sam deploy --config-env prod", command):
            aws(line, command, "its parts are walked above")
        elif re.fullmatch(r"sam delete --stack-name \S+", command):
            aws(line, command, "deletes a deployed stack")
        else:
            raise WalkError(
                f"{GUIDE.name}:{line}: `{command}` is not classified: teach scripts/walk_deployment.py to run it, "
                "or to name why it cannot run here"
            )
    return report


def main() -> int:
    try:
        with tempfile.TemporaryDirectory(prefix="repowatch-walk-") as scratch:
            report = walk(Path(scratch))
    except WalkError as e:
        print(f"walk_deployment: {e}", file=sys.stderr)
        return 1
    print("\n".join(report))
    ran = sum(1 for r in report if r.startswith("ran"))
    print(f"== docs/deployment.md: {ran} command(s) ran here, {len(report) - ran} need an AWS account (each checked as named)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
