#!/usr/bin/env bash
# Benchmark matrix: the lab broker against nats-server and redis-server, all on
# loopback, driven by the `bench` crate. Prints one markdown table: a row per
# scenario, a column per broker.
#
# Installs nats-server and redis-server with apt-get when missing (Debian,
# root), builds the broker and bench in release mode, starts the three servers
# and stops them on exit.
#
# Environment:
#   LAB_PORT, NATS_PORT, REDIS_PORT  server ports (8000, 4222, 6379)
#   LAB_NATS_PORT                    the lab broker's NATS door (4223)
#   TIMEOUT_S                        per-run limit in seconds (120)
#   COUNT_DIV                        divide every N by this, for a quick run (1)
#   BUILD=0                          use the binaries already in target/release
#   LOG                              server and bench stderr (target/bench-matrix.log)
set -euo pipefail
cd "$(dirname "$0")/.."

LAB_PORT=${LAB_PORT:-8000}
NATS_PORT=${NATS_PORT:-4222}
REDIS_PORT=${REDIS_PORT:-6379}
LAB_NATS_PORT=${LAB_NATS_PORT:-4223}
TIMEOUT_S=${TIMEOUT_S:-120}
COUNT_DIV=${COUNT_DIV:-1}
LOG=${LOG:-target/bench-matrix.log}
BENCH=target/release/bench

missing=()
command -v nats-server >/dev/null || missing+=(nats-server)
command -v redis-server >/dev/null || missing+=(redis-server)
if ((${#missing[@]})); then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

lab=1
if [[ ${BUILD:-1} != 0 ]] && ! cargo build --release -p broker -p bench; then
  echo "bench-matrix: building the broker failed; running without it" >&2
  cargo build --release -p bench
  lab=0
fi
if ((lab)) && [[ ! -x target/release/broker ]]; then
  echo "bench-matrix: no target/release/broker; running without it" >&2
  lab=0
fi
mkdir -p "$(dirname "$LOG")"
: >"$LOG"

SCRIPT=bench-matrix
# shellcheck source=scripts/bench-servers.sh
source scripts/bench-servers.sh

start nats "$NATS_PORT" nats-server -a 127.0.0.1 -p "$NATS_PORT"
start redis "$REDIS_PORT" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no
if ((lab)); then
  start lab "$LAB_PORT" target/release/broker --addr 127.0.0.1 --port "$LAB_PORT" \
    --nats "127.0.0.1:$LAB_NATS_PORT"
fi

# run NAME ARGS...: one bench run against server NAME, printed as a table cell.
run() {
  local name=$1 out
  shift
  echo "bench-matrix: $name $*" >&2
  out=$("$BENCH" "$@" --broker-pid "${pid[$name]}" --timeout-s "$TIMEOUT_S" --output cell 2>>"$LOG") || true
  echo "${out:-error (see $LOG)}"
}

# id|label|bench arguments|N
scenarios=(
  "a|1 pub → 1 sub, 128 B|--pubs 1 --subs 1 --size 128|1000000"
  "b|1 pub → 8 subs, 128 B|--pubs 1 --subs 8 --size 128|200000"
  "c|4 pubs → 1 sub, 128 B|--pubs 4 --subs 1 --size 128|1000000"
  "d|1 pub → 1 sub, 16 KiB|--pubs 1 --subs 1 --size 16384|50000"
  "e|1 pub → 1 sub, 128 B, paced 20,000 msg/s (p50 / p99 / p99.9)|--pubs 1 --subs 1 --size 128 --rate 20000|200000"
)

rows=()
for scenario in "${scenarios[@]}"; do
  IFS='|' read -r id label args count <<<"$scenario"
  n=$((count / COUNT_DIV))
  read -ra argv <<<"$args --count $n"
  lab_json="n/a" lab_xml="–" lab_nats="n/a"
  if ((lab)); then
    lab_json=$(run lab --target lab --addr "127.0.0.1:$LAB_PORT" "${argv[@]}")
    lab_nats=$(run lab --target nats --addr "127.0.0.1:$LAB_NATS_PORT" "${argv[@]}")
    if [[ $id == a || $id == d ]]; then
      lab_xml=$(run lab --target lab --serializer xml --addr "127.0.0.1:$LAB_PORT" "${argv[@]}")
    fi
  fi
  nats=$(run nats --target nats --addr "127.0.0.1:$NATS_PORT" "${argv[@]}")
  redis=$(run redis --target redis --addr "127.0.0.1:$REDIS_PORT" "${argv[@]}")
  rows+=("| $id) $label, N=$n | $lab_json | $lab_xml | $lab_nats | $nats | $redis |")
done

echo
echo "| scenario | lab broker (JSON) | lab broker (XML) | lab broker's NATS door | nats-server | redis-server |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "Unpaced cells: delivered msg/s summed over subscribers (first publish to last delivery) and p99 latency;"
echo "paced cells: one-way latency. Then broker CPU time during the run and peak RSS (VmHWM, whole process life)."
echo "$(nproc) cores; $(nats-server --version); $(redis-server --version | cut -d' ' -f1-3)."
