#!/usr/bin/env bash
# The test suite: every Rust test, with the real clients and tools the tests
# drive installed first, so that this one command works on a fresh Debian
# machine:
#   - Debian packages, when a command is missing (apt-get, as root or with
#     sudo): redis-cli (seed 003's redis-cli sessions), chromium and
#     chromedriver (the web view's test), unshare and mount (the durable
#     store's full-disk test);
#   - the seeds' own Python clients and the gRPC example's grpcio, pinned
#     in tests/python-requirements.txt,
#     in a virtual environment under target/, which the tests that run them
#     use.
# Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# command:package pairs.
needed=(redis-cli:redis-tools chromium:chromium chromedriver:chromium-driver
        unshare:util-linux mount:mount)
missing=()
for pair in "${needed[@]}"; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  echo "test.sh: installing ${missing[*]} with apt-get" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

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
