#!/usr/bin/env bash
# The gRPC API (`broker --grpc`) against the lab port of the same broker, in
# one run: publish and subscribe throughput with the bench crate's gRPC mode
# (`--target grpc`: Subscribe streams; unary Publish calls, or publishes
# pipelined on a Session stream) and its lab mode (framed JSON on the lab
# port), one after the other for each scenario. Prints a markdown table:
# delivered rate and p99 latency, and the broker's CPU time per delivered
# message (both of its threads: the reactor's, and the side thread's that
# serves gRPC).
#
# Environment:
#   LAB_PORT, GRPC_PORT   the broker's lab port and gRPC address (18400, 18401)
#   TIMEOUT_S             per-run limit in seconds (120)
#   COUNT_DIV             divide every N by this, for a quick run (1)
#   ROUNDS                runs of the whole table (1)
#   BUILD=0               use the binaries already in target/release
#   LOG                   broker and bench stderr (target/bench-grpc.log)
set -euo pipefail
cd "$(dirname "$0")/.."

LAB_PORT=${LAB_PORT:-18400}
GRPC_PORT=${GRPC_PORT:-18401}
TIMEOUT_S=${TIMEOUT_S:-120}
COUNT_DIV=${COUNT_DIV:-1}
ROUNDS=${ROUNDS:-1}
LOG=${LOG:-target/bench-grpc.log}
BENCH=target/release/bench

if [[ ${BUILD:-1} != 0 ]]; then
  cargo build --release -p broker -p bench
fi
mkdir -p "$(dirname "$LOG")"
: >"$LOG"

SCRIPT=bench-grpc
# shellcheck source=scripts/bench-servers.sh
source scripts/bench-servers.sh

start broker "$LAB_PORT" target/release/broker --addr 127.0.0.1 --port "$LAB_PORT" \
  --grpc "127.0.0.1:$GRPC_PORT"

# run TARGET PORT ARGS...: one bench run, its JSON report.
run() {
  local target=$1 port=$2
  shift 2
  echo "bench-grpc: $target $*" >&2
  "$BENCH" --target "$target" --addr "127.0.0.1:$port" "$@" --broker-pid "${pid[broker]}" \
    --timeout-s "$TIMEOUT_S" --output json 2>>"$LOG" || echo '{}'
}

# cell JSON: delivered rate, p99, CPU per delivered message.
cell() {
  python3 - "$1" <<'PY'
import json, sys
r = json.loads(sys.argv[1] or "{}")
if not r.get("delivered"):
    print("error (see log)")
    sys.exit()
lat = r.get("latency_ns") or {}
p99 = lat["p99"] / 1000
p99 = f"{p99 / 1000:.1f} ms" if p99 >= 10000 else (f"{p99:.0f} µs" if p99 >= 10 else f"{p99:.1f} µs")
cpu = r["broker"]["cpu_s"] * 1e9 / r["delivered"]
missing = r.get("missing", 0)
extra = f", **{missing} missing**" if missing else ""
print(f"{r['delivered_rate'] / 1e3:.1f}k msg/s, p99 {p99}, {cpu / 1000:.2f} µs CPU/msg{extra}")
PY
}

# id|label|bench arguments|N for lab and gRPC stream|N for gRPC unary
scenarios=(
  "a|1 pub → 1 sub, 128 B|--pubs 1 --subs 1 --size 128|300000|20000"
  "b|1 pub → 8 subs, 128 B|--pubs 1 --subs 8 --size 128|100000|10000"
  "c|4 pubs → 1 sub, 128 B|--pubs 4 --subs 1 --size 128|300000|40000"
  "d|1 pub → 1 sub, 16 KiB|--pubs 1 --subs 1 --size 16384|20000|5000"
)

echo "| scenario | lab port | gRPC, Session stream publish | gRPC, unary Publish |"
echo "|---|---|---|---|"
for round in $(seq "$ROUNDS"); do
  for scenario in "${scenarios[@]}"; do
    IFS='|' read -r id label args count unary <<<"$scenario"
    n=$((count / COUNT_DIV))
    u=$((unary / COUNT_DIV))
    read -ra argv <<<"$args"
    lab=$(cell "$(run lab "$LAB_PORT" "${argv[@]}" --count "$n")")
    stream=$(cell "$(run grpc "$GRPC_PORT" "${argv[@]}" --count "$n" --grpc-publish stream)")
    one=$(cell "$(run grpc "$GRPC_PORT" "${argv[@]}" --count "$u" --grpc-publish unary)")
    echo "| $id) $label, N=$n (unary $u) (round $round) | $lab | $stream | $one |"
  done
done
echo
echo "CPU/msg: the broker's CPU time (reactor and side thread) from the first publish to the last delivery, over the messages delivered."
echo "$(nproc) cores; broker at $(git rev-parse --short HEAD)."
