#!/usr/bin/env bash
# memory-check.sh: does the broker's memory stay bounded by what it retains?
#
# "A run of 1,000,000 publishes over 10,000 distinct topics does not grow the
# broker's memory beyond what the retained messages need."
#
# Builds the release broker and the `flood` example, starts the broker on
# 127.0.0.1, and records VmRSS / VmHWM from /proc/PID/status:
#   - at idle, after the first 10,000 publishes (every topic created), and
#     after 1,000,000 publishes round-robin over the 10,000 topics (~64-byte
#     string values): once with no subscriber, once with a subscriber on `/`
#     reading everything (a fresh broker each time);
#   - idle memory per connection: 1,000 idle handshaken connections, reported
#     as (RSS delta) / 1000;
#   - history: the same 1,000,000 publishes with no subscriber, once with
#     `--history 100` (the broker's default: every topic ends holding 100
#     messages, 1,000,000 kept) and once with `--history 1` (v1's retention:
#     10,000 kept), reported as the bytes per kept message:
#     (RSS with 100 - RSS with 1) / (990,000 extra kept messages).
#
# Usage: scripts/memory-check.sh    (env: PORT COUNT TOPICS SIZE CONNS HISTORIES)
set -euo pipefail

cd "$(dirname "$0")/.."
PORT=${PORT:-18555}
COUNT=${COUNT:-1000000}
TOPICS=${TOPICS:-10000}
SIZE=${SIZE:-64}
CONNS=${CONNS:-1000}
HISTORIES=${HISTORIES:-"1 100"}

echo "== building (release)" >&2
cargo build --release -p broker >&2
cargo build --release -p broker --example flood >&2
BROKER=target/release/broker
FLOOD=target/release/examples/flood

TMP=$(mktemp -d)
PID=
FPID=
cleanup() {
    exec 4>&- 2>/dev/null || true
    [ -n "$FPID" ] && kill "$FPID" 2>/dev/null || true
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The first free port from $PORT on.
while listening "$PORT"; do PORT=$((PORT + 1)); done
ADDR=127.0.0.1:$PORT

# start_broker [BROKER ARGS...]
start_broker() {
    RUST_LOG=warn "$BROKER" --addr 127.0.0.1 --port "$PORT" "$@" >>"$TMP/broker.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do
        listening "$PORT" && return 0
        kill -0 "$PID" 2>/dev/null || { cat "$TMP/broker.log" >&2; exit 1; }
        sleep 0.05
    done
    echo "broker did not start listening on $ADDR" >&2
    exit 1
}

stop_broker() {
    kill "$PID"
    wait "$PID" || true
    PID=
}

# status_kb FIELD: that field of the broker's /proc status, in kB.
status_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$PID/status"; }

ROWS=()
record() {
    local rss hwm
    rss=$(status_kb VmRSS)
    hwm=$(status_kb VmHWM)
    ROWS+=("$(printf '%-58s %10s %10s' "$1" "$rss" "$hwm")")
    LAST_RSS=$rss
}

flood_publish() {
    echo "   flood publish $*" >&2
    "$FLOOD" publish --addr "$ADDR" --topics "$TOPICS" --size "$SIZE" "$@" | sed 's/^/   /' >&2
}

declare -A RSS_AT
for sub in none root; do
    if [ "$sub" = root ]; then
        label="subscriber on /"
        extra=(--subscribe-root)
    else
        label="no subscriber"
        extra=()
    fi
    echo "== $COUNT publishes over $TOPICS topics, $label" >&2
    start_broker
    record "$label: idle"
    flood_publish --count "$TOPICS" --offset 0 "${extra[@]}"
    record "$label: after $TOPICS publishes (all topics created)"
    RSS_AT[$sub,topics]=$LAST_RSS
    flood_publish --count $((COUNT - TOPICS)) --offset "$TOPICS" "${extra[@]}"
    record "$label: after $COUNT publishes"
    RSS_AT[$sub,all]=$LAST_RSS
    stop_broker
done

declare -A HISTORY_RSS
for history in $HISTORIES; do
    label="--history $history"
    echo "== $COUNT publishes over $TOPICS topics, $label" >&2
    start_broker --history "$history"
    record "$label: idle"
    flood_publish --count "$TOPICS" --offset 0
    record "$label: after $TOPICS publishes (all topics created)"
    flood_publish --count $((COUNT - TOPICS)) --offset "$TOPICS"
    record "$label: after $COUNT publishes"
    HISTORY_RSS[$history]=$LAST_RSS
    stop_broker
done

echo "== $CONNS idle connections" >&2
start_broker
record "idle broker"
IDLE_RSS=$LAST_RSS
mkfifo "$TMP/hold"
"$FLOOD" idle --addr "$ADDR" --conns "$CONNS" <"$TMP/hold" >"$TMP/idle.out" &
FPID=$!
exec 4>"$TMP/hold"
for _ in $(seq 600); do
    grep -q ready "$TMP/idle.out" && break
    kill -0 "$FPID" 2>/dev/null || { echo "flood idle failed" >&2; exit 1; }
    sleep 0.1
done
grep -q ready "$TMP/idle.out" || { echo "flood idle never got ready" >&2; exit 1; }
sed 's/^/   /' "$TMP/idle.out" >&2
record "with $CONNS idle handshaken connections"
CONN_RSS=$LAST_RSS
exec 4>&-
wait "$FPID"
FPID=
sleep 0.5
record "after they disconnected"
stop_broker

echo
printf '%-58s %10s %10s\n' "broker (127.0.0.1:$PORT, release)" "VmRSS kB" "VmHWM kB"
printf '%s\n' "${ROWS[@]}"
echo
# kept H: messages kept after the run with --history H (COUNT round-robin
# publishes leave min(H, COUNT / TOPICS) on each topic).
kept() { local per=$((COUNT / TOPICS)); echo $((TOPICS * ($1 < per ? $1 : per))); }
# The first two runs use the broker's default, --history 100.
retained_kb=$(((($(kept 100) - TOPICS) * SIZE + 1023) / 1024))
for sub in none root; do
    growth=$((RSS_AT[$sub,all] - RSS_AT[$sub,topics]))
    echo "growth from $TOPICS to $COUNT publishes ($sub): ${growth} kB (values kept meanwhile, default --history 100: ~${retained_kb} kB)"
done
awk -v a="$IDLE_RSS" -v b="$CONN_RSS" -v n="$CONNS" \
    'BEGIN { printf "idle memory per connection: (%d - %d) kB / %d = %.2f kB\n", b, a, n, (b - a) / n }'
read -ra hs <<<"$HISTORIES"
low=${hs[0]}
for history in "${hs[@]:1}"; do
    extra=$(($(kept "$history") - $(kept "$low")))
    ((extra > 0)) || continue
    awk -v a="${HISTORY_RSS[$low]}" -v b="${HISTORY_RSS[$history]}" -v n="$extra" -v h="$history" -v l="$low" \
        'BEGIN { printf "bytes per kept message: (RSS with --history %s - with --history %s) / %d extra kept = (%d - %d) kB / %d = %.1f B\n", h, l, n, b, a, n, (b - a) * 1024 / n }'
done
if grep -q . "$TMP/broker.log"; then
    echo
    echo "broker warnings:"
    sed 's/^/  /' "$TMP/broker.log" | head -20
fi
