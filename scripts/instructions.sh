#!/usr/bin/env bash
# instructions.sh: instructions the broker executes per delivered message, per
# scenario, for one or more broker binaries (callgrind, from valgrind).
#
# Wall-clock CPU on a shared 2-core machine moves 15% from run to run; the
# instruction count of the same binary on the same workload moves 0.1%. So
# this is the figure for "did a change make the broker cheaper or dearer"
# (it counts user-space instructions only: check system time separately if a
# change could alter the number of system calls).
#
# Each broker runs under `valgrind --tool=callgrind` on 127.0.0.1, `bench`
# drives one scenario against it, SIGINT stops it (so callgrind writes its
# totals), and the total is divided by the messages delivered. Counts are
# smaller than bench-matrix.sh's, since valgrind runs the broker ~50x slower.
#
# Usage: scripts/instructions.sh NAME=BINARY [NAME=BINARY ...]
#   env: PORT (first port, 19500), OUT (callgrind files, target/instructions),
#        ONLY (scenario ids to run, as "ak"; all by default)
#
# Scenarios n, r and R go through the NATS or Redis door (`--nats` or
# `--redis` on the scenario's port; the lab listener moves 1000 ports up).
set -euo pipefail
cd "$(dirname "$0")/.."
(($#)) || { echo "usage: $0 NAME=BINARY [NAME=BINARY ...]" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "$0: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
BENCH=target/release/bench
[[ -x $BENCH ]] || cargo build --release -p bench >&2
PORT=${PORT:-19500}
OUT=${OUT:-target/instructions}
mkdir -p "$OUT"

# id|label|bench arguments
scenarios=(
  "a|1 pub → 1 sub, 128 B|--pubs 1 --subs 1 --size 128 --count 200000"
  "b|1 pub → 8 subs, 128 B|--pubs 1 --subs 8 --size 128 --count 50000"
  "c|4 pubs → 1 sub, 128 B|--pubs 4 --subs 1 --size 128 --count 200000"
  "d|1 pub → 1 sub, 16 KiB|--pubs 1 --subs 1 --size 16384 --count 10000"
  "e|paced 2,000 msg/s, 128 B|--pubs 1 --subs 1 --size 128 --rate 2000 --count 20000"
  "x|a) in XML|--pubs 1 --subs 1 --size 128 --count 100000 --serializer xml"
  "k|a) with a PUBACK for each|--pubs 1 --subs 1 --size 128 --count 200000 --ack"
  "n|a) through the NATS door|--target nats --pubs 1 --subs 1 --size 128 --count 200000"
  "r|a) through the Redis door|--target redis --pubs 1 --subs 1 --size 128 --count 200000"
  "R|d) through the Redis door|--target redis --pubs 1 --subs 1 --size 16384 --count 5000"
)

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# measure NAME BINARY ID ARGS: prints the instructions per delivered message.
measure() {
  local name=$1 binary=$2 id=$3 args=$4 port=$((PORT++))
  local file="$OUT/$name-$id.callgrind"
  local listen=(--port "$port")
  case $args in
    *"--target nats"*) listen=(--port $((port + 1000)) --nats "127.0.0.1:$port") ;;
    *"--target redis"*) listen=(--port $((port + 1000)) --redis "127.0.0.1:$port") ;;
  esac
  valgrind --tool=callgrind --callgrind-out-file="$file" "$binary" \
    --addr 127.0.0.1 "${listen[@]}" >"$OUT/$name-$id.log" 2>&1 &
  local pid=$!
  for _ in $(seq 200); do listening "$port" && break; sleep 0.1; done
  local delivered
  read -ra argv <<<"$args"
  delivered=$("$BENCH" --addr "127.0.0.1:$port" --timeout-s 600 --output json "${argv[@]}" 2>/dev/null |
    tail -1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["delivered"])')
  kill -INT "$pid"
  wait "$pid" || true
  # A broker that delivered nothing (it refused the publishes, say) has no
  # figure; its log is kept beside the callgrind file.
  ((delivered > 0)) || { echo "none delivered"; return; }
  local total
  total=$(awk '/^(summary|totals):/ {print $2; exit}' "$file")
  echo $((total / delivered))
}

header="| scenario |"
rule="|---|"
for b in "$@"; do header+=" ${b%%=*} |"; rule+="---|"; done
rows=()
for scenario in "${scenarios[@]}"; do
  IFS='|' read -r id label args <<<"$scenario"
  [[ -z ${ONLY:-} || $ONLY == *"$id"* ]] || continue
  row="| $id) $label |"
  for b in "$@"; do
    echo "instructions.sh: $id ${b%%=*}" >&2
    row+=" $(measure "${b%%=*}" "${b#*=}" "$id" "$args") |"
  done
  rows+=("$row")
done
echo "$header"
echo "$rule"
printf '%s\n' "${rows[@]}"
echo
echo "Instructions per delivered message (callgrind; user space only)."
