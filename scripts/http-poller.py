#!/usr/bin/env python3
"""Polls the broker's monitoring side as a dashboard would: GET /metrics and
GET /api/topics?limit=1000 every 1/RATE seconds on one kept-alive connection,
until SIGTERM or SIGINT; then prints one line: requests, errors, mean and
worst response time. Used by scripts/bench-monitoring.sh.

Usage: http-poller.py HOST:PORT [RATE]   (RATE: polls per second, default 10)
"""
import http.client
import signal
import sys
import time

addr = sys.argv[1]
rate = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
host, port = addr.rsplit(":", 1)
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)

conn = http.client.HTTPConnection(host, int(port), timeout=5)
requests = errors = 0
total = worst = 0.0
tick = time.monotonic()
while running:
    for path in ("/metrics", "/api/topics?limit=1000"):
        start = time.monotonic()
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
        took = time.monotonic() - start
        requests += 1
        total += took
        worst = max(worst, took)
    tick += 1.0 / rate
    time.sleep(max(0.0, tick - time.monotonic()))
mean_ms = 1000 * total / requests if requests else 0.0
print(f"{requests} requests, {errors} errors, mean {mean_ms:.2f} ms, worst {1000 * worst:.2f} ms")
