#!/usr/bin/env bash
# After a deploy: start one execution of the stack's pipeline and wait for it
# to succeed (10 minutes at most). Exit 1, with the error and cause, if it
# does not. It is a real run: it reads the stack's datasources and may queue
# builds, exactly as the daily schedule would.
set -euo pipefail
stack="${1:?usage: scripts/smoke.sh STACK_NAME}"
arn=$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Outputs[?OutputKey=='PipelineArn'].OutputValue" --output text)
if [ -z "$arn" ] || [ "$arn" = "None" ]; then
  echo "$stack has no PipelineArn output: is it a repowatch stack?" >&2
  exit 1
fi
name="smoke-$(date -u +%Y%m%dT%H%M%SZ)-${GITHUB_RUN_ID:-manual}"
execution=$(aws stepfunctions start-execution --state-machine-arn "$arn" --name "$name" \
  --input '{"source":"manual"}' --query executionArn --output text)
echo "started $execution"
for _ in $(seq 1 60); do
  status=$(aws stepfunctions describe-execution --execution-arn "$execution" --query status --output text)
  case "$status" in
    RUNNING) sleep 10 ;;
    SUCCEEDED)
      echo "$name succeeded"
      exit 0
      ;;
    *)
      echo "$name ended $status:" >&2
      aws stepfunctions describe-execution --execution-arn "$execution" --query '[error, cause]' --output text >&2
      exit 1
      ;;
  esac
done
echo "$name still running after 10 minutes" >&2
exit 1
