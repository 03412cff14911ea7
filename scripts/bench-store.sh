#!/usr/bin/env bash
# Durability benchmark: scenario a) (1 publisher -> 1 subscriber, 128 B) against
# the lab broker in memory and with --data-dir at each fsync policy, plain and
# with every publish acknowledged (--ack: confirmed publishes per second), next
# to nats-server with JetStream (a file-storage stream on the subject, every
# publish acknowledged); then the recovery time of 1,000,000 stored messages.
# Prints one line per run (see docs/store.md).
#
# Environment:
#   COUNT          messages per run (1000000)
#   RECOVER_COUNT  messages stored for the recovery run (1000000)
#   PORT           first of the ports used (19800)
#   DATA           where the data directories go (target/bench-store)
#   BUILD=0        use the binaries already in target/release
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-1000000}
RECOVER_COUNT=${RECOVER_COUNT:-1000000}
PORT=${PORT:-19800}
DATA=${DATA:-target/bench-store}
BENCH=target/release/bench
BROKER=target/release/broker

command -v nats-server >/dev/null || {
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y nats-server
}
if [[ ${BUILD:-1} != 0 ]]; then
  cargo build --release -p broker -p bench
fi
rm -rf "$DATA"
mkdir -p "$DATA"

server=""
stop() {
  if [[ -n $server ]]; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=""
  fi
}
trap stop EXIT

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# serve PORT COMMAND...: starts a server in the background, waits for its port.
serve() {
  local port=$1
  shift
  "$@" 2>>"$DATA/servers.log" &
  server=$!
  for _ in $(seq 100); do
    listening "$port" && return
    sleep 0.05
  done
  echo "bench-store: $* did not start" >&2
  exit 1
}

# measure LABEL PORT BENCH-ARGS...: one run; prints its figures on one line.
measure() {
  local label=$1 port=$2
  shift 2
  local out
  out=$("$BENCH" --addr "127.0.0.1:$port" --broker-pid "$server" --count "$COUNT" --timeout-s 300 "$@")
  local acked delivered cpu
  acked=$(grep -o 'acknowledged .* = [0-9.]*[kM]\? msg/s' <<<"$out" | grep -o '[0-9.]*[kM]\? msg/s' || echo '-')
  delivered=$(grep '^delivered' <<<"$out" | grep -o '= [0-9.]*[kM]\? msg/s' | cut -c3-)
  cpu=$(grep '^broker' <<<"$out" | grep -o 'cpu [0-9.]* s')
  local ns
  ns=$(awk -v c="${cpu#cpu }" -v n="$COUNT" 'BEGIN { printf "%.0f", c * 1e9 / n }')
  printf '| %s | %s | %s | %s ns |\n' "$label" "$delivered" "$acked" "$ns"
}

echo "| run | a) delivered msg/s | confirmed publishes/s | broker CPU per msg |"
echo "|---|---|---|---|"
p=$PORT
for mode in memory never always; do
  for ack in "" --ack; do
    p=$((p + 1))
    dir="$DATA/$mode-$p"
    if [[ $mode == memory ]]; then
      serve "$p" "$BROKER" --addr 127.0.0.1 --port "$p"
    else
      serve "$p" "$BROKER" --addr 127.0.0.1 --port "$p" --data-dir "$dir" --fsync "$mode"
    fi
    measure "lab, $mode${ack:+, --ack}" "$p" $ack
    stop
    rm -rf "$dir"
  done
done
p=$((p + 1))
serve "$p" nats-server -js -a 127.0.0.1 -p "$p" -sd "$DATA/jetstream"
measure "nats-server -js, JetStream file stream, acked" "$p" --target nats --ack
stop

# Recovery: RECOVER_COUNT messages kept (one topic, history as large), a clean
# stop, then a start that reads them back.
p=$((p + 1))
dir="$DATA/recovery"
serve "$p" "$BROKER" --addr 127.0.0.1 --port "$p" --data-dir "$dir" --fsync never \
  --history "$RECOVER_COUNT" --max-retained-bytes unlimited
"$BENCH" --addr "127.0.0.1:$p" --count "$RECOVER_COUNT" --subs 1 --timeout-s 300 >/dev/null
stop
started=$(grep -c 'numbering epoch' "$DATA/servers.log")
serve "$p" "$BROKER" --addr 127.0.0.1 --port "$p" --data-dir "$dir" \
  --history "$RECOVER_COUNT" --max-retained-bytes unlimited
# The port listens before recovery ends: wait for the broker to say it runs.
until (($(grep -c 'numbering epoch' "$DATA/servers.log") > started)); do sleep 0.05; done
stop
echo
echo "recovery: $(grep 'recovered in' "$DATA/servers.log" | tail -1 | sed 's/.*INFO *[^ ]* //')"
echo "log on disk: $(du -sh "$dir" | cut -f1)"
