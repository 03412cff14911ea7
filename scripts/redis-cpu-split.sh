#!/usr/bin/env bash
# redis-cpu-split.sh: user and system CPU per delivered message of
# `broker --redis` (one or more binaries) and of redis-server (persistence
# off), for one scenario of scripts/bench-redis.sh, the servers taking turns
# round by round. bench-redis.sh gives the total; this splits it, to tell
# what a server does in user space from what the kernel does for it (the
# socket copies, the wake-ups), which both servers pay.
#
# Usage: scripts/redis-cpu-split.sh [NAME=BROKER ...]   (default: new=target/release/broker)
#   env: SIZE (16384), COUNT (50000), RATE (0: unpaced), ROUNDS (3),
#        PORT (first port, 16400)
# The figures are /proc/<pid>/stat's utime and stime (10 ms ticks) read
# around each bench run, over the messages delivered: use counts that make
# each run last a second or more.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-16384}
COUNT=${COUNT:-50000}
RATE=${RATE:-0}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-16400}
(($#)) || set -- new=target/release/broker
command -v redis-server >/dev/null || { echo "$0: needs redis-server (apt-get install redis-server)" >&2; exit 1; }
[[ -x target/release/bench ]] || cargo build --release -p bench >&2

names=() ports=() pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
for b in "$@"; do
  port=$((PORT++))
  "${b#*=}" --addr 127.0.0.1 --port $((port + 1000)) --redis "127.0.0.1:$port" >/dev/null 2>&1 &
  pids+=($!) names+=("${b%%=*}") ports+=("$port")
done
port=$((PORT++))
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no >/dev/null 2>&1 &
pids+=($!) names+=(redis-server) ports+=("$port")
sleep 1

pace=()
((RATE == 0)) || pace=(--rate "$RATE")
tick=$((1000000000 / $(getconf CLK_TCK)))
echo "| round | server | user ns/msg | system ns/msg | total ns/msg |"
echo "|---|---|---|---|---|"
for round in $(seq "$ROUNDS"); do
  for i in "${!names[@]}"; do
    read -r u0 s0 < <(awk '{print $14, $15}' "/proc/${pids[$i]}/stat")
    target/release/bench --target redis --addr "127.0.0.1:${ports[$i]}" --pubs 1 --subs 1 \
      --size "$SIZE" --count "$COUNT" "${pace[@]}" --timeout-s 120 >/dev/null 2>&1
    read -r u1 s1 < <(awk '{print $14, $15}' "/proc/${pids[$i]}/stat")
    user=$(((u1 - u0) * tick / COUNT)) sys=$(((s1 - s0) * tick / COUNT))
    echo "| $round | ${names[$i]} | $user | $sys | $((user + sys)) |"
  done
done
echo
echo "Scenario: 1 pub -> 1 sub, $SIZE B, N=$COUNT, rate ${RATE} (0: unpaced); $(nproc) cores."
