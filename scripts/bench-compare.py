#!/usr/bin/env python3
"""Compares lab broker binaries on the benchmark scenarios, in one run.

Usage: scripts/bench-compare.py [--rounds R] [--scenarios abcde] [--div D]
                                NAME=BINARY [NAME=BINARY ...]

Each round runs every scenario once against every binary, in turn, so slow
drifts of the machine hit all of them alike; the table gives medians over the
rounds. The figure that counts on a shared machine is the broker's CPU time
per delivered message (user + system, from /proc, in 10 ms ticks: the counts
below give each run about a second of broker CPU so the ticks do not matter).

Needs target/release/bench (cargo build --release -p bench).
"""

import argparse
import json
import statistics
import subprocess
import sys

BENCH = "target/release/bench"

# id: (label, bench arguments)
SCENARIOS = {
    "a": ("1 pub -> 1 sub, 128 B", "--pubs 1 --subs 1 --size 128 --count 3000000"),
    "b": ("1 pub -> 8 subs, 128 B", "--pubs 1 --subs 8 --size 128 --count 1000000"),
    "c": ("4 pubs -> 1 sub, 128 B", "--pubs 4 --subs 1 --size 128 --count 3000000"),
    "d": ("1 pub -> 1 sub, 16 KiB", "--pubs 1 --subs 1 --size 16384 --count 150000"),
    "e": ("paced 20k/s, 128 B", "--pubs 1 --subs 1 --size 128 --rate 20000 --count 200000"),
    # Protocol v2 routing (docs/performance.md): b) with one content filter per
    # subscriber, alike or distinct, and a) beside 1,000 unmatched patterns.
    "f": ("b) with 8 alike filters", "--pubs 1 --subs 8 --size 128 --count 1000000 --filter msg.size()>0"),
    "g": ("b) with 8 distinct filters", "--pubs 1 --subs 8 --size 128 --count 1000000 --filter msg.size()>{i}"),
    "p": ("a) with 1,000 unmatched patterns", "--pubs 1 --subs 1 --size 128 --count 3000000 --idle-patterns 1000"),
}


def run(binary, args, div):
    argv = [BENCH, "--spawn-broker", binary, "--output", "json", "--timeout-s", "300"]
    argv += args.split()
    if div > 1:
        i = argv.index("--count")
        argv[i + 1] = str(int(argv[i + 1]) // div)
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        sys.exit(f"bench failed for {binary} {args}:\n{out.stderr[-2000:]}")
    report = json.loads(lines[-1])
    if not report["complete"]:
        sys.exit(f"incomplete run for {binary} {args}: {report}")
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenarios", default="abcde")
    parser.add_argument("--div", type=int, default=1, help="divide every count (quick runs)")
    parser.add_argument("binaries", nargs="+", metavar="NAME=BINARY")
    opts = parser.parse_args()
    binaries = [b.split("=", 1) for b in opts.binaries]
    results = {(s, name): [] for s in opts.scenarios for name, _ in binaries}
    for r in range(opts.rounds):
        for s in opts.scenarios:
            for name, binary in binaries:
                report = run(binary, SCENARIOS[s][1], opts.div)
                results[(s, name)].append(report)
                cpu_ns = report["broker"]["cpu_s"] * 1e9 / report["delivered"]
                print(f"round {r + 1} {s} {name}: {report['delivered_rate'] / 1e6:.2f}M msg/s, "
                      f"broker {cpu_ns:.0f} ns/msg, p99 {report['latency_ns']['p99'] / 1e3:.0f} µs",
                      file=sys.stderr)
    print("| scenario | broker | delivered msg/s | broker CPU per delivered msg | p99 latency |")
    print("|---|---|---|---|---|")
    for s in opts.scenarios:
        for name, _ in binaries:
            reports = results[(s, name)]
            rate = statistics.median(r["delivered_rate"] for r in reports)
            cpu = [r["broker"]["cpu_s"] * 1e9 / r["delivered"] for r in reports]
            p99 = statistics.median(r["latency_ns"]["p99"] for r in reports)
            print(f"| {s}) {SCENARIOS[s][0]} | {name} | {rate / 1e6:.2f}M | "
                  f"{statistics.median(cpu):.0f} ns ({min(cpu):.0f}-{max(cpu):.0f}) | "
                  f"{p99 / 1e3:.0f} µs |")
    print(f"\nMedians of {opts.rounds} rounds (CPU range in brackets); "
          f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores.")


if __name__ == "__main__":
    main()
