#!/usr/bin/env bash
# sam deploy of what `sam build` (or ./scripts/sam_build.sh) left in
# .aws-sam/build, to the samconfig.toml environment given (dev or prod).
# In GitHub Actions the credentials come from OIDC and CloudFormation works
# with the role of deploy/github-oidc.yaml (CLOUDFORMATION_ROLE_ARN, zips in
# ARTIFACT_BUCKET); by hand, without those, sam uses your own credentials and
# its managed bucket, as samconfig.toml says.
set -euo pipefail
cd "$(dirname "$0")/.."
env="${1:?usage: scripts/deploy.sh dev|prod}"
case "$env" in dev | prod) ;; *)
  echo "unknown environment $env: samconfig.toml has dev and prod" >&2
  exit 2
  ;;
esac
if [ ! -f .aws-sam/build/template.yaml ]; then
  echo "nothing built: run ./scripts/sam_build.sh (or sam build --beta-features) first" >&2
  exit 2
fi
. scripts/lib/venvs.sh
pip_tools venv-sam "$SAM_CLI"
export SAM_CLI_TELEMETRY=0
args=(deploy --config-env "$env" --template-file .aws-sam/build/template.yaml
  --no-fail-on-empty-changeset)
if [ -n "${CLOUDFORMATION_ROLE_ARN:-}" ]; then
  args+=(--role-arn "$CLOUDFORMATION_ROLE_ARN")
fi
if [ -n "${ARTIFACT_BUCKET:-}" ]; then
  args+=(--s3-bucket "$ARTIFACT_BUCKET" --no-resolve-s3)
fi
if [ -n "${GITHUB_ACTIONS:-}" ]; then
  # The `prod` environment's required reviewers are the confirmation.
  args+=(--no-confirm-changeset)
fi
exec "$venvs/venv-sam/bin/sam" "${args[@]}"
