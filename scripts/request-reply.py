#!/usr/bin/env python3
"""Request/reply round trips: the lab broker against nats-server.

Usage: scripts/request-reply.py [--rounds R] [--rr-count N] [--window K]
                                [--nats-port P] [--broker PATH]

Each round runs, in turn: request/reply against a lab broker started by bench
(--spawn-broker), then against nats-server (started here on 127.0.0.1:P unless
something listens there already, its pid passed to bench as --broker-pid).
Alternating spreads slow drifts of a shared machine over both. Prints a
markdown table of medians (ranges in brackets): round trips per second,
round-trip p50/p99, broker CPU per round trip.

The cost of PUBACK (scenario a) with and without --ack) is
scripts/bench-ack.sh's: it warms each broker up and alternates the order.

Needs target/release/bench and target/release/broker
(cargo build --release -p broker -p bench) and nats-server on the PATH.
"""

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time

BENCH = "target/release/bench"


def bench(args):
    """Runs bench with --output json; returns its report (exits on failure)."""
    argv = [BENCH, "--output", "json", "--timeout-s", "300"] + args
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        sys.exit(f"bench failed: {' '.join(argv)}\n{out.stderr[-2000:]}")
    report = json.loads(lines[-1])
    if not report["complete"]:
        sys.exit(f"incomplete run: {' '.join(argv)}\n{report}")
    return report


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_nats(port):
    """Starts nats-server on loopback; returns its process."""
    if listening(port):
        sys.exit(f"port {port} is taken; pick another with --nats-port")
    if not shutil.which("nats-server"):
        sys.exit("no nats-server: apt-get install -y nats-server")
    proc = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if listening(port):
            return proc
        time.sleep(0.1)
    proc.kill()
    sys.exit(f"nats-server does not listen on {port}")


def med(values, fmt):
    """`median (min-max)` formatted with fmt."""
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rr-count", type=int, default=50_000, help="round trips per run")
    parser.add_argument("--window", type=int, default=1, help="outstanding requests")
    parser.add_argument("--nats-port", type=int, default=4222)
    parser.add_argument("--broker", default="target/release/broker")
    opts = parser.parse_args()

    rr_args = ["--mode", "request-reply", "--size", "128", "--count", str(opts.rr_count),
               "--window", str(opts.window)]
    runs = {
        "lab rr": lambda: bench(rr_args + ["--spawn-broker", opts.broker]),
        "nats rr": lambda: bench(rr_args + ["--target", "nats", "--addr",
                                            f"127.0.0.1:{opts.nats_port}",
                                            "--broker-pid", str(nats.pid)]),
    }

    nats = start_nats(opts.nats_port)
    results = {name: [] for name in runs}
    try:
        for r in range(opts.rounds):
            for name, run in runs.items():
                report = run()
                results[name].append(report)
                print(f"round {r + 1} {name}: {report['round_trip_rate']:.0f} rt/s, "
                      f"p50 {report['latency_ns']['p50'] / 1e3:.1f} µs, "
                      f"p99 {report['latency_ns']['p99'] / 1e3:.1f} µs, broker "
                      f"{report['broker']['cpu_ns_per_round_trip'] / 1e3:.1f} µs/rt",
                      file=sys.stderr)
    finally:
        nats.kill()
        nats.wait()

    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    print(f"Request/reply, 128 B, window {opts.window}, {opts.rr_count} round trips per run:\n")
    print("| broker | round trips/s | p50 | p99 | broker CPU per round trip |")
    print("|---|---|---|---|---|")
    for name in ("lab rr", "nats rr"):
        reps = results[name]
        print(f"| {name.split()[0]} | "
              f"{med([x['round_trip_rate'] for x in reps], lambda v: f'{v / 1e3:.1f}k')} | "
              f"{med([x['latency_ns']['p50'] / 1e3 for x in reps], lambda v: f'{v:.0f} µs')} | "
              f"{med([x['latency_ns']['p99'] / 1e3 for x in reps], lambda v: f'{v:.0f} µs')} | "
              f"{med([x['broker']['cpu_ns_per_round_trip'] / 1e3 for x in reps], lambda v: f'{v:.1f} µs')} |")
    print(f"\nMedians of {opts.rounds} rounds (ranges in brackets); {cores} cores.")


if __name__ == "__main__":
    main()
