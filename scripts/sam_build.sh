#!/usr/bin/env bash
# `sam build` exactly as a user runs it before `sam deploy` (template.yaml's
# rust-cargolambda functions, arm64, the release profile of Cargo.toml), then
# each function's bootstrap and zip size against the 4 MB budget. Tools: the
# SAM CLI from scripts/test.sh's venv, cargo-lambda (with its zig) from PyPI
# into its own venv, and Rust's aarch64 standard library through rustup.
# Skip it locally with REPOWATCH_SKIP_SAM_BUILD=1; CI always runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/venvs.sh
export SAM_CLI_TELEMETRY=0
pip_tools venv-sam "$SAM_CLI"
pip_tools venv-lambda "$CARGO_LAMBDA"
lambda_venv="$venvs/venv-lambda"
if ! command -v rustup >/dev/null 2>&1; then
  echo "rustup is missing: sam build needs Rust's aarch64-unknown-linux-gnu standard library; skipped" >&2
  exit 0
fi
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi

export PATH="$lambda_venv/bin:$venvs/venv-sam/bin:$PATH"
start=$(date +%s)
sam build --beta-features --template template.yaml 2>&1 |
  grep -v -e 'SAM CLI update available' -e 'To download:' -e '^$' -e 'Compiling ' -e 'Downloaded ' -e 'Downloading '
echo "sam build: $(($(date +%s) - start)) s"

# Sizes as deployed: sam deploy zips each build directory (deflate).
python3 - <<'PY'
import io, os, sys, zipfile
budget = 4_000_000
over = []
print(f"{'function':<28} {'bootstrap':>12} {'zip -9':>12}")
for name in sorted(os.listdir(".aws-sam/build")):
    path = os.path.join(".aws-sam/build", name, "bootstrap")
    if not os.path.isfile(path):
        continue
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(path, "bootstrap")
    size, zipped = os.path.getsize(path), len(buf.getvalue())
    print(f"{name:<28} {size:>12,} {zipped:>12,}")
    if zipped > budget:
        over.append(name)
if over:
    sys.exit(f"over the {budget:,}-byte zip budget: {', '.join(over)} (docs/performance.md, 'Lambda sizes')")
PY
