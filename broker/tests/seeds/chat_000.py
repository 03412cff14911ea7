"""Seed 000's chat flows, driven through the seed's own Python client
(pubsub_client.py, copied unchanged from the seed) against the broker's
WebSocket door. Usage: chat_000.py WS_PORT NATS_PORT. Prints one line per
flow that passed and exits 0; any failure raises (exit 1).

The client is used as the seed writes it; a subclass only records what it
receives and displays."""

import asyncio
import os
import sys

import nats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pubsub_client import PubSubClient  # noqa: E402

URL = f"ws://127.0.0.1:{sys.argv[1]}"
NATS_URL = f"nats://127.0.0.1:{sys.argv[2]}"


class Recorder(PubSubClient):
    """The seed's client, keeping what it receives and what it displays
    (in the order its reorder buffer displays it)."""

    def __init__(self, user_id):
        super().__init__(URL, user_id)
        self.got = []
        self.shown = []

    async def handle_message(self, msg):
        self.got.append(msg)
        await super().handle_message(msg)

    def display_message(self, msg):
        self.shown.append(msg)
        super().display_message(msg)

    def of_type(self, kind):
        return [m for m in self.got if m.get("type") == kind]

    def presence(self):
        return [(m["userId"], m["action"]) for m in self.of_type("presence")]


async def until(what, timeout=5.0):
    """Waits for `what()` to be true."""
    for _ in range(int(timeout / 0.01)):
        if what():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def joined(client, room):
    """Subscribes and waits for the answer."""
    before = len(client.of_type("subscribed"))
    await client.subscribe(room)
    await until(lambda: len(client.of_type("subscribed")) > before)
    return client.of_type("subscribed")[-1]["sequence"]


async def two_users():
    """Test 1 and 3 of the seed: two users in a room see each other's
    messages, numbered [1].. in one order for both."""
    alice, bob = Recorder("alice"), Recorder("bob")
    await alice.connect()
    await bob.connect()
    assert await joined(alice, "general") == 0
    assert await joined(bob, "general") == 0
    for i in range(3):
        await alice.publish("general", f"a{i}")
        await bob.publish("general", f"b{i}")
    await until(lambda: len(alice.shown) == 6 and len(bob.shown) == 6)
    for c in (alice, bob):
        assert [m["sequence"] for m in c.shown] == [1, 2, 3, 4, 5, 6], c.shown
        assert [m["content"] for m in c.shown if m["sender"] == "alice"] == ["a0", "a1", "a2"]
    assert alice.shown == bob.shown
    assert ("bob", "join") in alice.presence(), alice.presence()
    for c in (alice, bob):
        await c.ws.close()
    print("ok two users, sequence order")


async def presence():
    """Test 4: join and leave, by unsubscribing and by a dropped connection."""
    alice, bob, carol = Recorder("alice"), Recorder("bob"), Recorder("carol")
    for c in (alice, bob, carol):
        await c.connect()
    await joined(alice, "lobby")
    await joined(bob, "lobby")
    await until(lambda: ("bob", "join") in alice.presence())
    await bob.unsubscribe("lobby")
    await until(lambda: ("bob", "leave") in alice.presence())
    await joined(carol, "lobby")
    await until(lambda: ("carol", "join") in alice.presence())
    carol.max_reconnect_attempts = 0
    carol.ws.transport.abort()  # no close frame: as Ctrl+C would
    await until(lambda: ("carol", "leave") in alice.presence())
    for c in (alice, bob):
        await c.ws.close()
    print("ok presence join/leave, abrupt disconnect")


async def history():
    """Test 1's /history: the last 100 of 150 messages."""
    poster, reader = Recorder("poster"), Recorder("reader")
    await poster.connect()
    await reader.connect()
    for i in range(1, 151):
        await poster.publish("busy", f"m{i}")
    # The poster's own join is answered after its 150 publishes (a
    # connection's requests are handled in order); the reader's, on another
    # connection, could reach the broker before the last of them (the client
    # library may still be writing them).
    assert await joined(poster, "busy") == 150
    assert await joined(reader, "busy") == 150
    await reader.get_history("busy")
    await until(lambda: reader.of_type("history"))
    shown = reader.shown
    assert [m["sequence"] for m in shown] == list(range(51, 151)), shown
    assert shown[0]["content"] == "m51" and shown[-1]["content"] == "m150"
    assert all(m["sender"] == "poster" and len(m["id"]) == 12 for m in shown)
    for c in (poster, reader):
        await c.ws.close()
    print("ok history of the last 100 after 150")


async def reconnect():
    """The client's reconnection: dropped, it reconnects by itself, joins
    again at the room's sequence and goes on."""
    roam, stay = Recorder("roam"), Recorder("stay")
    await roam.connect()
    await stay.connect()
    await joined(roam, "again")
    await joined(stay, "again")
    await roam.publish("again", "one")
    await until(lambda: len(roam.shown) == 1 and len(stay.shown) == 1)
    first = roam.ws
    first.transport.abort()
    await until(lambda: ("roam", "leave") in stay.presence())
    await stay.publish("again", "while away")
    # The seed's client waits 2 s, then connects again.
    await until(lambda: roam.ws is not first and roam.ws.open, timeout=10)
    assert await joined(roam, "again") == 2
    await roam.get_history("again")
    await until(lambda: roam.of_type("history"))
    assert [m["content"] for m in roam.of_type("history")[0]["messages"]] == ["one", "while away"]
    await stay.publish("again", "back")
    await until(lambda: roam.shown and roam.shown[-1]["content"] == "back")
    assert roam.shown[-1]["sequence"] == 3
    for c in (roam, stay):
        c.max_reconnect_attempts = 0
        await c.ws.close()
    print("ok reconnect and continue")


async def from_nats():
    """Cross-door: a NATS publish on chat.general is a message in room
    general, next in its sequence."""
    c = Recorder("watcher")
    await c.connect()
    seq = await joined(c, "general")
    nc = await nats.connect(NATS_URL)
    await nc.publish("chat.general", b"from nats")
    await nc.flush()
    await until(lambda: c.shown)
    m = c.shown[0]
    assert (m["sequence"], m["sender"], m["content"]) == (seq + 1, "", "from nats"), m
    await nc.close()
    await c.ws.close()
    print("ok NATS publish on chat.general")


async def main():
    await two_users()
    await presence()
    await history()
    await reconnect()
    await from_nats()


if __name__ == "__main__":
    asyncio.run(main())
