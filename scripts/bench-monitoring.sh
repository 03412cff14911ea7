#!/usr/bin/env bash
# What monitoring costs message traffic: scenario a) of bench-matrix.sh (1
# publisher to 1 subscriber, 128 B) against one broker started with --http,
# alternately with nothing polling and with scripts/http-poller.py fetching
# /metrics and /api/topics ten times a second each, for ROUNDS rounds of
# each. Prints one line per run and the medians side by side.
#
# Environment:
#   LAB_PORT, HTTP_PORT   the broker's lab door and monitoring side (18910, 18911)
#   COUNT                 messages per run (3000000: about 1.5 s, 15 polls)
#   ROUNDS                runs of each kind (5)
#   BUILD=0               use the binaries already in target/release
set -euo pipefail
cd "$(dirname "$0")/.."

LAB_PORT=${LAB_PORT:-18910}
HTTP_PORT=${HTTP_PORT:-18911}
COUNT=${COUNT:-3000000}
ROUNDS=${ROUNDS:-5}

if [[ ${BUILD:-1} != 0 ]]; then
  cargo build --release -p broker -p bench
fi

target/release/broker --addr 127.0.0.1 --port "$LAB_PORT" --http "127.0.0.1:$HTTP_PORT" \
  --metrics-prefixes /bench 2>/dev/null &
broker=$!
poller=
cleanup() {
  [[ -n $poller ]] && kill "$poller" 2>/dev/null
  kill "$broker" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && break
  sleep 0.1
done

# run: one scenario a) run; prints "delivered_msg_per_s broker_ns_per_msg p99_ms".
run() {
  target/release/bench --target lab --addr "127.0.0.1:$LAB_PORT" --broker-pid "$broker" \
    --pubs 1 --subs 1 --size 128 --count "$COUNT" --output json 2>/dev/null |
    python3 -c 'import json,sys
r = json.load(sys.stdin)
assert r["complete"], r
print("%.0f %.0f %.1f" % (r["delivered_rate"], 1e9 * r["broker"]["cpu_s"] / r["delivered"], r["latency_ns"]["p99"] / 1e6))'
}

without=() with=()
for round in $(seq "$ROUNDS"); do
  w=$(run)
  without+=("$w")
  echo "round $round without polling: $w (msg/s, broker ns/msg, p99 ms)"
  python3 scripts/http-poller.py "127.0.0.1:$HTTP_PORT" 10 >target/http-poller.out &
  poller=$!
  sleep 0.2
  p=$(run)
  kill "$poller"
  wait "$poller" || true
  poller=
  with+=("$p")
  echo "round $round with polling:    $p (poller: $(cat target/http-poller.out))"
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { local i=$1; shift; for r in "$@"; do echo "$r" | cut -d' ' -f"$i"; done; }
rate_without=$(median $(col 1 "${without[@]}"))
rate_with=$(median $(col 1 "${with[@]}"))
echo
echo "| | delivered msg/s (median) | broker ns per message (median) | p99 ms (median) |"
echo "|---|---|---|---|"
echo "| without polling | $rate_without | $(median $(col 2 "${without[@]}")) | $(median $(col 3 "${without[@]}")) |"
echo "| polling /metrics and /api/topics 10/s | $rate_with | $(median $(col 2 "${with[@]}")) | $(median $(col 3 "${with[@]}")) |"
python3 -c "print('change in delivered rate: %+.1f%%' % (100.0 * ($rate_with - $rate_without) / $rate_without))"
echo "$(nproc) cores, N=$COUNT, $ROUNDS rounds each, alternating, one broker process."
