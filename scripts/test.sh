#!/usr/bin/env bash
# The test suite: every Rust test, with the seeds' own Python clients (pinned
# in tests/python-requirements.txt) installed in a virtual environment under
# target/, which the tests that run those clients use. Extra arguments go to
# `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/pyenv
requirements=tests/python-requirements.txt
if [[ ! -x $venv/bin/python ]] || ! cmp -s "$requirements" "$venv/requirements.txt"; then
  echo "test.sh: installing the Python clients of $requirements into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi
export BROKER_TEST_PYTHON="$PWD/$venv/bin/python"
exec cargo test --workspace "$@"
