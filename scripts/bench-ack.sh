#!/usr/bin/env bash
# What PUBACK on every publish costs scenario a) (issue 11): for each round
# and each broker binary given, a fresh broker, a 500,000-message warm-up,
# then scenario a) (1 publisher -> 1 subscriber, 128 B) without and with
# --ack, in alternating order (the first run of a fresh broker pays for its
# warm-up). Prints one line per round and binary: delivered msg/s and broker
# CPU per delivered message of each run, and the --ack / plain ratio; then
# the median ratio per binary.
#
# Usage: scripts/bench-ack.sh [BROKER...]   (default target/release/broker)
# Environment:
#   ROUNDS   rounds (10)
#   COUNT    messages per measured run (2000000)
#   PORT     first of the ports used (19880)
#   BUILD=0  use the binaries already in target/release
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-10}
COUNT=${COUNT:-2000000}
PORT=${PORT:-19880}
BENCH=target/release/bench
if [[ ${BUILD:-1} != 0 ]]; then
  cargo build --release -p broker -p bench
fi
brokers=("$@")
[[ ${#brokers[@]} -gt 0 ]] || brokers=(target/release/broker)

# One measured run: prints "rate ns_per_msg".
run() {
  local port=$1 pid=$2
  shift 2
  "$BENCH" --target lab --addr "127.0.0.1:$port" --broker-pid "$pid" --pubs 1 --subs 1 \
    --size 128 --count "$COUNT" --output json "$@" 2>/dev/null | tail -1 |
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(round(d["delivered_rate"]), round(d["broker"]["cpu_s"] * 1e9 / d["delivered"]))'
}

results=$(mktemp)
trap 'rm -f "$results"' EXIT
port=$PORT
for round in $(seq "$ROUNDS"); do
  for broker in "${brokers[@]}"; do
    "$broker" --addr 127.0.0.1 --port "$port" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 50); do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      sleep 0.1
    done
    "$BENCH" --target lab --addr "127.0.0.1:$port" --pubs 1 --subs 1 --size 128 \
      --count 500000 >/dev/null 2>&1
    order=(plain ack)
    ((round % 2 == 0)) && order=(ack plain)
    declare -A rate=() cpu=()
    for mode in "${order[@]}"; do
      extra=()
      [[ $mode == ack ]] && extra=(--ack)
      read -r rate[$mode] cpu[$mode] < <(run "$port" "$pid" "${extra[@]}")
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    port=$((port + 1))
    ratio=$(python3 -c "print(round(${rate[ack]} / ${rate[plain]}, 3))")
    echo "$broker $ratio" >>"$results"
    echo "round $round $broker: plain ${rate[plain]} msg/s ${cpu[plain]} ns | --ack ${rate[ack]} msg/s ${cpu[ack]} ns | ratio $ratio"
  done
done
python3 - "$results" <<'PY'
import statistics, sys
by = {}
for line in open(sys.argv[1]):
    broker, ratio = line.split()
    by.setdefault(broker, []).append(float(ratio))
for broker, ratios in by.items():
    print(f"{broker}: median ratio {statistics.median(ratios):.3f} over {len(ratios)} rounds "
          f"({min(ratios):.3f} to {max(ratios):.3f}, {sum(r >= 0.85 for r in ratios)} at 0.85 or more)")
PY
