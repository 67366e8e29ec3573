# Sourced by the scripts: Python tools from PyPI, each family in its own venv
# outside the checkout (${REPOWATCH_VENVS:-~/.cache/repowatch}/<name>),
# reinstalled only when the pinned versions change.
venvs="${REPOWATCH_VENVS:-$HOME/.cache/repowatch}"
pip_tools() { # pip_tools VENV PACKAGE...
  local venv="$venvs/$1"
  shift
  if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$*" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
    echo "$*" > "$venv/.installed"
  fi
}
# The pins, in one place.
SAM_CLI="aws-sam-cli==1.148.0"
CARGO_LAMBDA="cargo-lambda==1.9.2"
