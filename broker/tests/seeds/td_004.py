"""Seed 004's TD (NATS), exercises V.1 to V.4, with nats-py as the TD writes
it, against the broker's NATS door. Usage: td_004.py PORT. Prints one line
per exercise that passed and exits 0; any failure raises (exit 1)."""

import asyncio
import json
import sys

import nats
from nats.errors import NoRespondersError, TimeoutError

URL = f"nats://127.0.0.1:{sys.argv[1]}"


async def counter():
    """V.1: one service publishes a value increased by 2 on "compteur", another
    prints what it receives (the TD's period of 10 s made 10 ms)."""
    received = []
    sub_nc = await nats.connect(URL)

    async def cb(msg):
        received.append(int(msg.data.decode()))

    await sub_nc.subscribe("compteur", cb=cb)
    await sub_nc.flush()
    pub_nc = await nats.connect(URL)
    value = 0
    for _ in range(5):
        value += 2
        await pub_nc.publish("compteur", str(value).encode())
        await asyncio.sleep(0.01)
    await pub_nc.flush()
    for _ in range(100):
        if len(received) == 5:
            break
        await asyncio.sleep(0.01)
    assert received == [2, 4, 6, 8, 10], received
    await pub_nc.close()
    await sub_nc.close()
    print("ok V.1 compteur")


async def hierarchy():
    """V.2: fr.region.department.city subjects; Colmar alone, all of Grand Est,
    and Strasbourg wherever it is."""
    nc = await nats.connect(URL)
    got = {"colmar": [], "grand_est": [], "strasbourg": []}

    def collect(name):
        async def cb(msg):
            got[name].append(msg.subject)
        return cb

    await nc.subscribe("fr.grand_est.67.colmar", cb=collect("colmar"))
    await nc.subscribe("fr.grand_est.>", cb=collect("grand_est"))
    await nc.subscribe("fr.*.*.strasbourg", cb=collect("strasbourg"))
    await nc.flush()
    pub = await nats.connect(URL)
    subjects = [
        "fr.grand_est.67.colmar",
        "fr.grand_est.67.strasbourg",
        "fr.grand_est.68.mulhouse",
        "fr.occitanie.31.toulouse",
        "fr.autre.00.strasbourg",
    ]
    for s in subjects:
        await pub.publish(s, b"meteo")
    await pub.flush()
    await asyncio.sleep(0.2)
    assert got["colmar"] == ["fr.grand_est.67.colmar"], got
    assert sorted(got["grand_est"]) == sorted(subjects[:3]), got
    assert sorted(got["strasbourg"]) == ["fr.autre.00.strasbourg", "fr.grand_est.67.strasbourg"], got
    await pub.close()
    await nc.close()
    print("ok V.2 sujets hiérarchisés")


async def hotline():
    """V.3: a service on "hotline" decodes a JSON request and answers with
    msg.respond; the client asks with request(), and with an explicit inbox."""
    service = await nats.connect(URL)

    async def answer(msg):
        req = json.loads(msg.data)
        reply = {"code": req["code"], "answer": "ouvert" if req["code"] == 1 else "fermé"}
        await msg.respond(json.dumps(reply).encode())

    await service.subscribe("hotline", cb=answer)
    await service.flush()
    client = await nats.connect(URL)
    msg = await client.request("hotline", json.dumps({"code": 1}).encode(), timeout=2)
    assert json.loads(msg.data) == {"code": 1, "answer": "ouvert"}, msg.data
    inbox = client.new_inbox()
    sub = await client.subscribe(inbox)
    await client.publish("hotline", json.dumps({"code": 2}).encode(), reply=inbox)
    msg = await sub.next_msg(timeout=2)
    assert json.loads(msg.data) == {"code": 2, "answer": "fermé"}, msg.data
    try:
        await client.request("personne", b"?", timeout=1)
        raise AssertionError("a request nobody receives must fail")
    except NoRespondersError:
        pass
    await client.close()
    await service.close()
    print("ok V.3 requêtes avec réponse")


async def chat():
    """V.4: clients choose subjects with wildcards, and forward a message to
    another subject or answer on the same one."""
    alice = await nats.connect(URL)
    bob = await nats.connect(URL)
    seen = []

    async def on_bob(msg):
        seen.append(("bob", msg.subject, msg.data.decode()))
        if msg.subject == "chat.general":
            await bob.publish("chat.archive.general", msg.data)

    async def on_alice(msg):
        seen.append(("alice", msg.subject, msg.data.decode()))

    await bob.subscribe("chat.*", cb=on_bob)
    await alice.subscribe("chat.archive.>", cb=on_alice)
    await bob.flush()
    await alice.flush()
    await alice.publish("chat.general", "bonjour".encode())
    await alice.flush()
    for _ in range(100):
        if len(seen) == 2:
            break
        await asyncio.sleep(0.01)
    assert sorted(seen) == [
        ("alice", "chat.archive.general", "bonjour"),
        ("bob", "chat.general", "bonjour"),
    ], seen
    sub = await alice.subscribe("chat.private")
    try:
        await sub.next_msg(timeout=0.2)
        raise AssertionError("nothing was sent on chat.private")
    except TimeoutError:
        pass
    await alice.close()
    await bob.close()
    print("ok V.4 chat")


async def main():
    await counter()
    await hierarchy()
    await hotline()
    await chat()


asyncio.run(main())
