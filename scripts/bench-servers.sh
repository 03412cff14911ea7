# Sourced by the bench scripts: starting servers on loopback and stopping
# them on exit. Expects LOG (the servers' output) and SCRIPT (the caller's
# name, for messages); fills `pid` with each server's process id.

declare -A pid=()
cleanup() {
  for p in "${pid[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start NAME PORT COMMAND...: starts a server and waits until it listens.
start() {
  local name=$1 port=$2
  shift 2
  if listening "$port"; then
    echo "$SCRIPT: port $port is taken; set ${name^^}_PORT" >&2
    exit 1
  fi
  "$@" >>"$LOG" 2>&1 &
  pid[$name]=$!
  for _ in $(seq 100); do
    listening "$port" && return 0
    sleep 0.1
  done
  echo "$SCRIPT: $name does not listen on port $port (see $LOG)" >&2
  exit 1
}
