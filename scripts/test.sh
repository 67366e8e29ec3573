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
# GitHub against them (scripts/github-contract.mjs).
npm_packages=(asl-validator@3.16.0 @octokit/webhooks-examples@7.6.1 @octokit/openapi@23.0.2
  @octokit/graphql-schema@15.26.1 graphql@16 ajv@8.17.1 ajv-formats@3.0.1)
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

# From PyPI, into a venv cached outside the checkout: moto server, the AWS
# protocol peer the AWS adapters are tested against (crates/repowatch-aws/tests).
py_packages=("moto[server]==5.2.5")
venv="${REPOWATCH_VENV:-$HOME/.cache/repowatch/venv}"
if need python3; then
  if [ "$(cat "$venv/.installed" 2>/dev/null)" != "${py_packages[*]}" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${py_packages[@]}"
    echo "${py_packages[*]}" > "$venv/.installed"
  fi
  export REPOWATCH_VENV="$venv"
else
  echo "python3 is missing: the AWS adapter tests against moto are skipped" >&2
fi

if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --all --check
else
  echo "rustfmt is not installed (rustup component add rustfmt): skipping the format check" >&2
fi
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --locked --workspace --all-targets -- -D warnings
else
  echo "clippy is not installed (rustup component add clippy): skipping lints" >&2
fi
cargo build --locked --workspace --all-targets
cargo test --locked --workspace -- --color never
./scripts/conformance.sh
