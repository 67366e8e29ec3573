#!/usr/bin/env bash
# template.yaml as AWS will read it: SAM's own validation with its linter,
# cfn-lint with the serverless rules, and checkov (no downloads) with every
# suppression justified on its resource. Tools come from the venvs
# scripts/test.sh installs under ~/.cache/repowatch.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/venvs.sh
export SAM_CLI_TELEMETRY=0

echo "== sam validate --lint"
"$venvs/venv-sam/bin/sam" validate --lint --template template.yaml --region us-east-1 2>&1 | grep -v -e 'SAM CLI update available' -e 'To download:' -e '^$'

echo "== cfn-lint (with cfn-lint-serverless rules)"
"$venvs/venv-lint/bin/cfn-lint" template.yaml --append-rules cfn_lint_serverless.rules
"$venvs/venv-lint/bin/cfn-lint" deploy/github-oidc.yaml
echo "0 errors, 0 warnings (template.yaml, deploy/github-oidc.yaml)"

echo "== checkov --skip-download"
report=$("$venvs/venv-lint/bin/checkov" --file template.yaml --file deploy/github-oidc.yaml --framework cloudformation --skip-download --compact --quiet --output cli 2>&1) || {
  echo "$report"
  exit 1
}
echo "$report" | grep -E 'Passed checks|Failed checks' || true
# Every suppression carries its reason.
if grep -n -A1 -- '- id: CKV_' template.yaml deploy/github-oidc.yaml | grep -v -e '- id: CKV_' -e 'comment: .\{20,\}' -e '^--$' | grep . ; then
  echo "a checkov suppression above has no comment explaining it" >&2
  exit 1
fi
