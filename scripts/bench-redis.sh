#!/usr/bin/env bash
# The Redis door against redis-server (persistence off), in one run: the
# bench-matrix scenarios a) to e) with the bench crate's Redis mode
# (`--target redis`: SUBSCRIBE, pipelined PUBLISH over RESP2), against
# `broker --redis` and against redis-server, one after the other for each
# scenario. Prints a markdown table with, per server, the delivered rate
# (unpaced) or the latency percentiles (paced), and the server's CPU time per
# delivered message; then the ratio broker / redis-server of that CPU.
#
# Installs redis-server with apt-get when missing (Debian, root), builds the
# broker and bench in release mode.
#
# Environment:
#   DOOR_PORT, REDIS_PORT   the broker's Redis door and redis-server (16379, 16380)
#   LAB_PORT                the broker's lab port (18379)
#   TIMEOUT_S               per-run limit in seconds (120)
#   COUNT_DIV               divide every N by this, for a quick run (1)
#   ROUNDS                  runs of the whole table (1)
#   BUILD=0                 use the binaries already in target/release
#   LOG                     server and bench stderr (target/bench-redis.log)
set -euo pipefail
cd "$(dirname "$0")/.."

DOOR_PORT=${DOOR_PORT:-16379}
REDIS_PORT=${REDIS_PORT:-16380}
LAB_PORT=${LAB_PORT:-18379}
TIMEOUT_S=${TIMEOUT_S:-120}
COUNT_DIV=${COUNT_DIV:-1}
ROUNDS=${ROUNDS:-1}
LOG=${LOG:-target/bench-redis.log}
BENCH=target/release/bench

if ! command -v redis-server >/dev/null; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server
fi
if [[ ${BUILD:-1} != 0 ]]; then
  cargo build --release -p broker -p bench
fi
mkdir -p "$(dirname "$LOG")"
: >"$LOG"

SCRIPT=bench-redis
# shellcheck source=scripts/bench-servers.sh
source scripts/bench-servers.sh

start door "$DOOR_PORT" target/release/broker --addr 127.0.0.1 --port "$LAB_PORT" --redis "127.0.0.1:$DOOR_PORT"
start redis "$REDIS_PORT" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no

# run NAME PORT ARGS...: one bench run, its JSON report.
run() {
  local name=$1 port=$2
  shift 2
  echo "bench-redis: $name $*" >&2
  "$BENCH" --target redis --addr "127.0.0.1:$port" "$@" --broker-pid "${pid[$name]}" \
    --timeout-s "$TIMEOUT_S" --output json 2>>"$LOG" || echo '{}'
}

# id|label|bench arguments|N (as scripts/bench-matrix.sh)
scenarios=(
  "a|1 pub → 1 sub, 128 B|--pubs 1 --subs 1 --size 128|1000000"
  "b|1 pub → 8 subs, 128 B|--pubs 1 --subs 8 --size 128|200000"
  "c|4 pubs → 1 sub, 128 B|--pubs 4 --subs 1 --size 128|1000000"
  "d|1 pub → 1 sub, 16 KiB|--pubs 1 --subs 1 --size 16384|50000"
  "e|1 pub → 1 sub, 128 B, paced 20,000 msg/s|--pubs 1 --subs 1 --size 128 --rate 20000|200000"
)

# cell JSON: "text of the cell|CPU ns per delivered message".
cell() {
  python3 - "$1" <<'PY'
import json, sys
r = json.loads(sys.argv[1] or "{}")
if not r.get("delivered"):
    print("error (see log)|")
    sys.exit()
lat = r.get("latency_ns") or {}
def us(v):
    return f"{v / 1000:.0f} µs" if v >= 10000 else f"{v / 1000:.1f} µs"
if r.get("rate"):
    head = "p50 {} / p99 {} / p99.9 {}".format(us(lat["p50"]), us(lat["p99"]), us(lat["p999"]))
else:
    head = "{:.2f}M msg/s (p99 {})".format(r["delivered_rate"] / 1e6, us(lat["p99"]))
cpu = r["broker"]["cpu_s"] * 1e9 / r["delivered"]
missing = r.get("missing", 0)
extra = f", **{missing} missing**" if missing else ""
print(f"{head}, {cpu:.0f} ns CPU/msg{extra}|{cpu}")
PY
}

echo "| scenario | broker --redis | redis-server | CPU ratio |"
echo "|---|---|---|---|"
for round in $(seq "$ROUNDS"); do
  for scenario in "${scenarios[@]}"; do
    IFS='|' read -r id label args count <<<"$scenario"
    n=$((count / COUNT_DIV))
    read -ra argv <<<"$args --count $n"
    IFS='|' read -r door_cell door_cpu <<<"$(cell "$(run door "$DOOR_PORT" "${argv[@]}")")"
    IFS='|' read -r redis_cell redis_cpu <<<"$(cell "$(run redis "$REDIS_PORT" "${argv[@]}")")"
    ratio=$(python3 -c "import sys; d, r = sys.argv[1:]; print(f'{float(d)/float(r):.2f}' if d and r and float(r) else '–')" "$door_cpu" "$redis_cpu")
    echo "| $id) $label, N=$n (round $round) | $door_cell | $redis_cell | $ratio |"
  done
done
echo
echo "CPU/msg: the server's CPU time from the first publish to the last delivery, over the messages delivered."
echo "$(nproc) cores; $(redis-server --version | cut -d' ' -f1-3); broker at $(git rev-parse --short HEAD)."
