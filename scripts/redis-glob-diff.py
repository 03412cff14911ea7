"""Compares the Redis door's glob matching with redis-server's: subscribes the
same random channels on both, then asks both `PUBSUB CHANNELS <pattern>` for
random patterns over a small alphabet rich in glob syntax (`*`, `?`, `[`, `]`,
`^`, `-`, `\\`). Prints the differences and exits 1 if there are any.

Usage: redis-glob-diff.py REDIS_PORT DOOR_PORT [PATTERNS]  (needs redis-py:
target/pyenv/bin/python after scripts/test.sh)."""

import random
import sys

import redis

REDIS_PORT, DOOR_PORT = int(sys.argv[1]), int(sys.argv[2])
PATTERNS = int(sys.argv[3]) if len(sys.argv) > 3 else 4000
ALPHABET = "ab:/-^]\\[?x"
random.seed(7)


def word(n, alphabet):
    return "".join(random.choice(alphabet) for _ in range(n))


channels = set()
while len(channels) < 300:
    c = word(random.randint(1, 6), ALPHABET)
    # A channel is a topic without its leading '/': no empty segments.
    if not c.startswith("/") and not c.endswith("/") and "//" not in c:
        channels.add(c)
clients = []
for port in (REDIS_PORT, DOOR_PORT):
    r = redis.Redis(port=port, protocol=2)
    p = r.pubsub()
    p.subscribe(*sorted(channels))
    for _ in channels:
        p.get_message(timeout=1)
    clients.append((r, p))
server, door = clients[0][0], clients[1][0]
assert sorted(server.pubsub_channels()) == sorted(door.pubsub_channels())
differences = 0
for _ in range(PATTERNS):
    pattern = word(random.randint(1, 7), ALPHABET + "*")
    want, got = sorted(server.pubsub_channels(pattern)), sorted(door.pubsub_channels(pattern))
    if want != got:
        differences += 1
        print(f"{pattern!r}: redis-server {want[:5]}, door {got[:5]}")
print(f"{PATTERNS} patterns over {len(channels)} channels: {differences} differences")
sys.exit(1 if differences else 0)
