#!/usr/bin/env bash
# WebSocket chat benchmark: 1, 10 and 100 subscribers of one room, one paced
# publisher, against the broker's --ws door and seed 000's own Python server
# (scripts/seed_000/pubsub_server.py, run with the websockets of
# target/pyenv: scripts/test.sh installs it). Each server is started fresh
# for each run and measured by its pid. Usage:
#   scripts/bench_ws.sh [RATE [COUNT [SUBS...]]]     (defaults: 1000 5000 1 10 100)
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-1000}
count=${2:-5000}
shift $(( $# > 2 ? 2 : $# ))
subs=("${@:-1 10 100}")
target=${CARGO_TARGET_DIR:-target}
python=${BROKER_TEST_PYTHON:-target/pyenv/bin/python}
cargo build --release -q -p broker -p bench
port=18765

run() { # NAME SUBS -- COMMAND...
  local name=$1 n=$2; shift 3
  "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  echo "== $name, $n subscriber(s), $rate msg/s, $count messages"
  "$target/release/bench" --target ws --addr 127.0.0.1:$port --subs "$n" --count "$count" \
    --rate "$rate" --broker-pid "$pid" --timeout-s 120 || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

for n in ${subs[@]}; do
  run broker "$n" -- env RUST_LOG=warn "$target/release/broker" -p 0 --ws 127.0.0.1:$port
  run "seed 000 Python server" "$n" -- env PORT=$port "$python" scripts/seed_000/pubsub_server.py
done
