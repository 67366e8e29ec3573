#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, then runs
# every test of the workspace (unit, end-to-end, crash safety, invariants).
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
if ! need cargo; then
  echo "cargo is missing: install Rust from https://rustup.rs (1.89 or newer)" >&2
  exit 2
fi
if ! need git; then
  echo "git is missing: the end-to-end tests make real git repositories (apt-get install git)" >&2
  exit 2
fi

# From npm, cached outside the checkout: asl-validator, the reference our
# definition validation is compared with (tests/e2e/validator.rs); GitHub's
# example webhook payloads (tests/e2e/github_events.rs); GitHub's OpenAPI
# description and GraphQL schema with the validators that check the fake
# GitHub against them (scripts/github-contract.mjs; Ajv also checks the JSON
# Schema of repowatch.toml); playwright-core, which drives Debian's Chromium
# through the status page (tests/e2e/status_page.rs; it downloads no browser).
npm_packages=(asl-validator@3.16.0 @octokit/webhooks-examples@7.6.1 @octokit/openapi@23.0.2
  @octokit/graphql-schema@15.26.1 graphql@16 ajv@8.17.1 ajv-formats@3.0.1 playwright-core@1.64.1)
if need npm; then
  node_dir="$HOME/.cache/repowatch/node"
  stamp="$node_dir/.installed"
  if [ "$(cat "$stamp" 2>/dev/null)" != "${npm_packages[*]}" ]; then
    mkdir -p "$node_dir"
    npm install --prefix "$node_dir" --no-audit --no-fund --silent "${npm_packages[@]}"
    echo "${npm_packages[*]}" > "$stamp"
  fi
else
  echo "npm is missing: the asl-validator comparison and the fake GitHub's contract check are skipped" >&2
fi

# Debian's Chromium (and a Japanese font for the screenshots) for the status
# page's browser test: installed when this runs as root with apt-get, else the
# test says it is skipped (REPOWATCH_REQUIRE_BROWSER=1 makes that a failure).
if [ ! -x "${REPOWATCH_CHROMIUM:-/usr/bin/chromium}" ]; then
  as_root=()
  [ "$(id -u)" = 0 ] || { need sudo && sudo -n true 2>/dev/null && as_root=(sudo -n); } || as_root=(none)
  if [ "${as_root[*]}" != none ] && need apt-get; then
    apt_install() { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-ipafont-gothic >/dev/null; }
    apt_install || { "${as_root[@]}" apt-get update -qq && apt_install; } \
      || echo "chromium could not be installed with apt-get: the status page's browser test is skipped" >&2
  else
    echo "chromium is missing (apt-get install chromium fonts-ipafont-gothic): the status page's browser test is skipped" >&2
  fi
fi

# From PyPI, into venvs cached outside the checkout (one per tool family:
# aws-sam-cli pins its own cfn-lint): moto server, the AWS protocol peer the
# AWS adapters are tested against (crates/repowatch-aws/tests); the SAM CLI;
# cfn-lint with the serverless rules, and checkov, for template.yaml.
. scripts/lib/venvs.sh
if need python3; then
  pip_tools venv "moto[server]==5.2.5"
  pip_tools venv-sam "$SAM_CLI"
  pip_tools venv-lint "cfn-lint==1.58.0" "cfn-lint-serverless==0.3.6" "checkov==3.3.30"
  export REPOWATCH_VENV="$venvs/venv"
else
  echo "python3 is missing: the AWS adapter tests against moto and the template checks are skipped" >&2
fi

if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --all --check
else
  echo "rustfmt is not installed (rustup component add rustfmt): skipping the format check" >&2
fi
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --locked --workspace --all-targets -- -D warnings
  # The CLI's optional AWS feature (repowatch sync's write) is off in the workspace build.
  cargo clippy --locked -p repowatch --features aws --all-targets -- -D warnings
else
  echo "clippy is not installed (rustup component add clippy): skipping lints" >&2
fi
cargo build --locked --workspace --all-targets
cargo test --locked --workspace -- --color never
# `repowatch sync` as built with the AWS SDK, writing to moto (the workspace
# build above is the default CLI, which refuses to write).
cargo test --locked -p repowatch --features aws --test sync_aws -- --color never
if need python3; then
  ./scripts/check_template.sh
  ./scripts/check_workflows.sh
  if [ -n "${REPOWATCH_SKIP_SAM_BUILD:-}" ]; then
    echo "sam build skipped (REPOWATCH_SKIP_SAM_BUILD is set)" >&2
  else
    ./scripts/sam_build.sh
  fi
  # docs/deployment.md as a new user walks it: every command that can run
  # offline runs as written; the rest are named with what checks them instead.
  ./scripts/walk_deployment.py
fi
./scripts/conformance.sh
# Every parser of outside input fuzzed briefly, after replaying the inputs
# that once crashed it (scripts/fuzz.sh --time 600 is the long run).
./scripts/fuzz.sh --time "${REPOWATCH_FUZZ_SECONDS:-20}"
