"""Seed 003's redis-py listings (the chapter on Redis Pub/Sub), as the chapter
writes them, against the broker's Redis door. Usage: chapter_003.py PORT
[PROTOCOL]. Prints one line per listing that behaved as the chapter says and
exits 0; any failure raises (exit 1).

The listings are copied unchanged; two things around them are not theirs:
`redis.Redis` is made to connect to PORT (the listings say 6379, or nothing)
and, when PROTOCOL is given, with that RESP version (redis-py 8 speaks RESP3
by default); and their `print` is captured, so that what they print can be
checked. Endless loops (`listen()`, the robust subscriber) run in daemon
threads, as the chapter's own listener thread does."""

import json
import sys
import threading
import time

import redis

PORT = int(sys.argv[1])
PROTOCOL = int(sys.argv[2]) if len(sys.argv) > 2 else None


class _Door(redis.Redis):
    def __init__(self, *args, **kwargs):
        kwargs["port"] = PORT
        if PROTOCOL is not None:
            kwargs["protocol"] = PROTOCOL
        super().__init__(*args, **kwargs)


redis.Redis = _Door

printed = []
_lock = threading.Lock()


def print(*args, **kwargs):  # noqa: A001 - the listings' print, captured
    with _lock:
        printed.append(" ".join(str(a) for a in args))


def wait_for(text, timeout=5.0):
    """Waits until some printed line contains `text`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with _lock:
            if any(text in line for line in printed):
                return
        time.sleep(0.01)
    raise AssertionError(f"never printed {text!r}; printed: {printed[-20:]}")


def wait_subscribers(r, channel, n, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if dict(r.pubsub_numsub(channel)).get(channel, 0) >= n:
            return
        time.sleep(0.01)
    raise AssertionError(f"{channel} never had {n} subscribers")


def ok(name):
    sys.stdout.write(f"ok {name}\n")
    sys.stdout.flush()


# ============================================
# PUBLISHER
# ============================================
def publisher_example():
    r = redis.Redis(host='localhost', port=6379, decode_responses=True)

    # Publier un message simple
    num_subscribers = r.publish('notifications', 'Hello World')
    print(f"Message délivré à {num_subscribers} subscriber(s)")

    # Publier des données structurées
    event = {
        'type': 'user_login',
        'user_id': 123,
        'timestamp': time.time()
    }
    r.publish('events:auth', json.dumps(event))

# ============================================
# SUBSCRIBER (version simple)
# ============================================
def subscriber_simple():
    r = redis.Redis(host='localhost', port=6379, decode_responses=True)
    pubsub = r.pubsub()

    # S'abonner à un channel
    pubsub.subscribe('notifications')

    print("En écoute...")
    for message in pubsub.listen():
        if message['type'] == 'message':
            print(f"Reçu: {message['data']}")

# ============================================
# SUBSCRIBER avec gestion d'erreurs
# ============================================
def subscriber_robust():
    r = redis.Redis(host='localhost', port=6379, decode_responses=True)
    pubsub = r.pubsub()

    # S'abonner à plusieurs channels
    pubsub.subscribe('notifications', 'alerts', 'events:auth')

    # Pattern subscription
    pubsub.psubscribe('logs:*')

    print("Subscriber démarré...")

    while True:
        try:
            message = pubsub.get_message()

            if message:
                msg_type = message['type']

                if msg_type == 'subscribe':
                    print(f"✓ Abonné à: {message['channel']}")

                elif msg_type == 'psubscribe':
                    print(f"✓ Pattern abonné: {message['pattern']}")

                elif msg_type == 'message':
                    channel = message['channel']
                    data = message['data']
                    print(f"[{channel}] {data}")

                    # Traitement spécifique par channel
                    if channel == 'alerts':
                        handle_alert(data)
                    elif channel == 'events:auth':
                        handle_auth_event(json.loads(data))

                elif msg_type == 'pmessage':
                    pattern = message['pattern']
                    channel = message['channel']
                    data = message['data']
                    print(f"[Pattern:{pattern}] [{channel}] {data}")

            time.sleep(0.01)  # Éviter CPU spin

        except KeyboardInterrupt:
            print("\nArrêt du subscriber...")
            pubsub.unsubscribe()
            pubsub.punsubscribe()
            break

        except Exception as e:
            print(f"Erreur: {e}")
            time.sleep(1)  # Backoff avant retry

def handle_alert(data):
    print(f"🚨 ALERTE: {data}")

def handle_auth_event(event):
    print(f"🔐 Auth: User {event['user_id']} logged in")

# ============================================
# SUBSCRIBER avec threading
# ============================================
class PubSubListener(threading.Thread):
    def __init__(self, channels, patterns=None):
        super().__init__(daemon=True)
        self.redis = redis.Redis(host='localhost', port=6379, decode_responses=True)
        self.pubsub = self.redis.pubsub()
        self.channels = channels
        self.patterns = patterns or []

    def run(self):
        self.pubsub.subscribe(*self.channels)
        if self.patterns:
            self.pubsub.psubscribe(*self.patterns)

        print(f"Thread listening on {self.channels} and patterns {self.patterns}")

        for message in self.pubsub.listen():
            if message['type'] in ['message', 'pmessage']:
                self.handle_message(message)

    def handle_message(self, message):
        # Override dans les classes filles
        print(f"Reçu: {message}")

    def stop(self):
        self.pubsub.unsubscribe()
        self.pubsub.punsubscribe()
        self.pubsub.close()


def run_publisher_and_subscribers():
    control = redis.Redis(decode_responses=True)
    threading.Thread(target=subscriber_simple, daemon=True).start()
    threading.Thread(target=subscriber_robust, daemon=True).start()
    wait_subscribers(control, "notifications", 2)
    wait_subscribers(control, "events:auth", 1)
    publisher_example()
    wait_for("Message délivré à 2 subscriber(s)")
    wait_for("Reçu: Hello World")
    wait_for("[notifications] Hello World")
    wait_for("🔐 Auth: User 123 logged in")
    wait_for("✓ Abonné à: alerts")
    # redis-py fills `pattern` for pmessages only: the listing prints None,
    # with redis-server as here.
    wait_for("✓ Pattern abonné: None")
    ok("publisher, simple and robust subscribers")
    assert control.publish("alerts", "disk full") == 1
    wait_for("🚨 ALERTE: disk full")
    assert control.publish("logs:app:error", "boom") == 1
    wait_for("[Pattern:logs:*] [logs:app:error] boom")
    ok("robust subscriber: alerts and PSUBSCRIBE logs:*")


def run_listener_thread():
    control = redis.Redis(decode_responses=True)
    listener = PubSubListener(['notifications', 'alerts'])
    listener.start()
    wait_for("Thread listening on ['notifications', 'alerts'] and patterns []")
    wait_subscribers(control, "alerts", 1)
    control.publish("alerts", "from the main thread")
    wait_for("'data': 'from the main thread'")
    listener.stop()
    ok("listener thread")


def run_patterns_and_counts():
    r = redis.Redis(decode_responses=True)
    p = r.pubsub()
    p.subscribe("notifications:user:123")
    p.psubscribe("notifications:user:*", "notifications:*")
    time.sleep(0.05)
    # A channel and two matching patterns: received, and counted, three times.
    assert r.publish("notifications:user:123", "hi") == 3
    got = []
    deadline = time.time() + 5
    while len(got) < 6 and time.time() < deadline:
        m = p.get_message(timeout=0.1)
        if m:
            got.append((m["type"], m["pattern"], m["channel"], m["data"]))
    assert got[:3] == [
        ("subscribe", None, "notifications:user:123", 1),
        ("psubscribe", None, "notifications:user:*", 2),
        ("psubscribe", None, "notifications:*", 3),
    ], got
    assert got[3] == ("message", None, "notifications:user:123", "hi"), got
    assert sorted(got[4:]) == [
        ("pmessage", "notifications:*", "notifications:user:123", "hi"),
        ("pmessage", "notifications:user:*", "notifications:user:123", "hi"),
    ], got
    p.close()
    ok("PSUBSCRIBE patterns and the counts PUBLISH returns")


# ============================================
# Script de monitoring
# ============================================
from collections import defaultdict

class PubSubMonitor:
    def __init__(self):
        self.redis = redis.Redis()
        self.stats = defaultdict(lambda: {
            'messages': 0,
            'subscribers': 0,
            'last_seen': None
        })

    def collect_stats(self):
        """Collecter les statistiques Pub/Sub"""
        # Lister tous les channels
        channels = self.redis.pubsub_channels()

        for channel in channels:
            # Compter subscribers
            numsub = self.redis.pubsub_numsub(channel)
            count = numsub[0][1] if numsub else 0

            self.stats[channel]['subscribers'] = count
            self.stats[channel]['last_seen'] = time.time()

        # Nombre de pattern subscriptions
        numpat = self.redis.pubsub_numpat()

        return {
            'channels': len(channels),
            'total_patterns': numpat,
            'channel_stats': dict(self.stats)
        }


def run_introspection():
    r = redis.Redis(decode_responses=True)
    subs = []
    for channels in (["orders", "alerts"], ["orders"]):
        p = r.pubsub()
        p.subscribe(*channels)
        subs.append(p)
    p = r.pubsub()
    p.psubscribe("logs:*")
    subs.append(p)
    for p in subs:
        p.get_message(timeout=1)
    wait_subscribers(r, "orders", 2)
    assert sorted(r.pubsub_channels()) == ["alerts", "orders"], r.pubsub_channels()
    assert r.pubsub_channels("ord*") == ["orders"]
    assert r.pubsub_numsub("orders", "alerts", "nobody") == [
        ("orders", 2), ("alerts", 1), ("nobody", 0)
    ]
    stats = PubSubMonitor().collect_stats()
    assert stats["channels"] == 2 and stats["total_patterns"] == 1, stats
    assert stats["channel_stats"][b"orders"]["subscribers"] == 2, stats
    for p in subs:
        p.close()
    ok("PUBSUB CHANNELS, NUMSUB, NUMPAT and the monitor")


# ============================================
# Pattern 1 : Invalidation de cache distribuée
# ============================================
import hashlib

class DistributedCache:
    def __init__(self):
        # Connexion pour cache operations
        self.cache_redis = redis.Redis(host='localhost', port=6379, db=0)

        # Connexion dédiée pour Pub/Sub
        self.pubsub_redis = redis.Redis(host='localhost', port=6379, db=0)
        self.pubsub = self.pubsub_redis.pubsub()

        # Local cache (L1)
        self.local_cache = {}

        # Subscribe aux invalidations
        self.pubsub.subscribe('cache:invalidate')
        self.start_listening()

    def get(self, key):
        # 1. Check local cache (L1)
        if key in self.local_cache:
            print(f"✓ L1 cache hit: {key}")
            return self.local_cache[key]

        # 2. Check Redis cache (L2)
        value = self.cache_redis.get(key)
        if value:
            print(f"✓ L2 cache hit: {key}")
            self.local_cache[key] = value
            return value

        # 3. Cache miss
        print(f"✗ Cache miss: {key}")
        return None

    def set(self, key, value, ttl=300):
        # 1. Set dans Redis
        self.cache_redis.setex(key, ttl, value)

        # 2. Set dans local cache
        self.local_cache[key] = value

        # 3. Invalider sur les autres instances
        self.invalidate_others(key)

    def invalidate_others(self, key):
        """Invalider le cache sur les autres instances"""
        # Générer un token unique pour éviter boucle infinie
        instance_id = id(self)

        message = json.dumps({
            'key': key,
            'instance_id': instance_id
        })

        self.pubsub_redis.publish('cache:invalidate', message)

    def start_listening(self):
        """Écouter les invalidations en background"""
        import threading

        def listen():
            for message in self.pubsub.listen():
                if message['type'] == 'message':
                    self.handle_invalidation(message['data'])

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()

    def handle_invalidation(self, data):
        """Handler pour les messages d'invalidation"""
        msg = json.loads(data)
        key = msg['key']
        sender_id = msg['instance_id']

        # Ignorer nos propres messages
        if sender_id == id(self):
            return

        # Invalider local cache
        if key in self.local_cache:
            del self.local_cache[key]
            print(f"✓ Invalidated local cache: {key}")


def run_cache_invalidation():
    r = redis.Redis(decode_responses=True)
    # Utilisation
    cache1 = DistributedCache()
    cache2 = DistributedCache()
    wait_subscribers(r, "cache:invalidate", 2)

    # Instance 1 set une valeur
    cache1.set('user:123', '{"name":"John","age":30}')

    # Instance 2 la récupère (sera en L2)
    value = cache2.get('user:123')
    assert value == b'{"name":"John","age":30}', value
    wait_for("✓ L2 cache hit: user:123")
    assert r.ttl("user:123") == 300

    # Instance 1 update
    cache1.set('user:123', '{"name":"John","age":31}')
    # → cache2 reçoit invalidation et supprime de L1
    wait_for("✓ Invalidated local cache: user:123")
    assert cache2.get('user:123') == b'{"name":"John","age":31}'
    ok("cache invalidation with SETEX/GET")


# ============================================
# Pattern 3 : Fan-out pour microservices
# ============================================
import logging
from typing import Dict, Any

class EventBus:
    """Event bus basé sur Redis Pub/Sub pour architecture microservices"""

    def __init__(self):
        self.redis = redis.Redis(host='localhost', port=6379)
        self.logger = logging.getLogger(__name__)

    def publish_event(self, event_type: str, payload: Dict[str, Any]):
        """Publier un événement sur le bus"""
        event = {
            'type': event_type,
            'payload': payload,
            'timestamp': time.time(),
            'source': 'service-name'
        }

        channel = f'events:{event_type}'
        message = json.dumps(event)

        num_subscribers = self.redis.publish(channel, message)
        self.logger.info(f"Event {event_type} published to {num_subscribers} services")

        return num_subscribers

# Service 1: Order Service
class OrderService:
    def __init__(self):
        self.event_bus = EventBus()

    def create_order(self, user_id, items):
        # Logique métier...
        order = {
            'order_id': 'ORD-123',
            'user_id': user_id,
            'items': items,
            'total': 99.99
        }

        # Publier événement
        self.event_bus.publish_event('order.created', order)

        return order

# Service 2: Inventory Service (subscriber)
class InventoryService:
    def __init__(self):
        self.redis = redis.Redis(host='localhost', port=6379)
        self.pubsub = self.redis.pubsub()
        self.pubsub.subscribe('events:order.created')

    def listen(self):
        for message in self.pubsub.listen():
            if message['type'] == 'message':
                self.handle_order_created(json.loads(message['data']))

    def handle_order_created(self, event):
        order = event['payload']
        print(f"Inventory: Reserving stock for order {order['order_id']}")
        # Logique de réservation...

# Service 3: Notification Service (subscriber)
class NotificationService:
    def __init__(self):
        self.redis = redis.Redis(host='localhost', port=6379)
        self.pubsub = self.redis.pubsub()
        self.pubsub.subscribe('events:order.created')

    def listen(self):
        for message in self.pubsub.listen():
            if message['type'] == 'message':
                self.handle_order_created(json.loads(message['data']))

    def handle_order_created(self, event):
        order = event['payload']
        user_id = order['user_id']
        print(f"Notification: Sending confirmation to user {user_id}")
        # Logique d'envoi email/SMS...

# Service 4: Analytics Service (subscriber)
class AnalyticsService:
    def __init__(self):
        self.redis = redis.Redis(host='localhost', port=6379)
        self.pubsub = self.redis.pubsub()

        # Subscribe à tous les événements
        self.pubsub.psubscribe('events:*')

    def listen(self):
        for message in self.pubsub.listen():
            if message['type'] == 'pmessage':
                self.track_event(message['channel'], json.loads(message['data']))

    def track_event(self, channel, event):
        event_type = event['type']
        print(f"Analytics: Tracking {event_type}")
        # Logique d'analytics...


def run_event_bus():
    r = redis.Redis(decode_responses=True)
    for service in (InventoryService(), NotificationService(), AnalyticsService()):
        threading.Thread(target=service.listen, daemon=True).start()
    wait_subscribers(r, "events:order.created", 2)
    deadline = time.time() + 5
    while r.pubsub_numpat() < 1 and time.time() < deadline:
        time.sleep(0.01)
    order = OrderService().create_order(42, ["book"])
    assert order["order_id"] == "ORD-123"
    wait_for("Inventory: Reserving stock for order ORD-123")
    wait_for("Notification: Sending confirmation to user 42")
    wait_for("Analytics: Tracking order.created")
    assert EventBus().publish_event("order.created", {"order_id": "x", "user_id": 1}) == 3
    ok("event bus fan-out to three services")


def run_pitfalls():
    # 1. Perte de messages garantie
    r = redis.Redis()
    pubsub = r.pubsub()

    # ❌ PIÈGE : Subscribe APRÈS publication
    r.publish('channel', 'Message 1')  # Publié AVANT subscription
    time.sleep(0.1)

    pubsub.subscribe('channel')  # Subscribe maintenant
    # → Message 1 est PERDU définitivement

    r.publish('channel', 'Message 2')  # Sera reçu
    time.sleep(0.1)

    for message in pubsub.listen():
        if message['type'] == 'message':
            print(message['data'])
            # Recevra uniquement "Message 2"
            break
    wait_for("b'Message 2'")
    assert "b'Message 1'" not in printed
    pubsub.close()

    # 2. Connexion bloquée
    pubsub = r.pubsub()
    pubsub.subscribe('notifications')
    r.set('key', 'value')  # the chapter's `r` is not the pub/sub connection
    r_normal = redis.Redis()  # Pour operations normales
    r_pubsub = redis.Redis()  # Pour Pub/Sub uniquement
    pubsub2 = r_pubsub.pubsub()
    pubsub2.subscribe('notifications')
    r_normal.set('key', 'value')  # ✓ Fonctionne
    assert r_normal.get('key') == b'value'
    pubsub.close()
    pubsub2.close()

    # 3. Pas de buffer ni queue: all 1000 are queued for the slow reader,
    # which stops after 10.
    pubsub = r.pubsub()
    pubsub.subscribe('fast-channel')
    for i in range(1000):
        r.publish('fast-channel', f'Message {i}')
    time.sleep(0.2)
    count = 0
    for message in pubsub.listen():
        if message['type'] == 'message':
            count += 1
            if count >= 10:
                break
    assert count == 10
    pubsub.close()

    # 4. Absence de persistence: nobody listens, the publish reaches 0.
    assert r.publish('orders:created', '{"order_id":"123","amount":99.99}') == 0

    # 6. Toujours cleanup
    def good_subscriber():
        r = redis.Redis()
        pubsub = r.pubsub()
        try:
            pubsub.subscribe('channel')
            # ... traiter messages ...
        finally:
            pubsub.unsubscribe()
            pubsub.close()
            r.close()
    good_subscriber()
    time.sleep(0.1)
    assert redis.Redis().pubsub_numsub('channel') == [(b'channel', 0)]
    ok("the pitfalls")


def run_protocol_errors():
    r = redis.Redis()
    try:
        r.execute_command("NOSUCHCOMMAND", "x")
        raise AssertionError("an unknown command succeeded")
    except redis.exceptions.ResponseError as e:
        assert str(e) == "unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' ", e
    ok("an unknown command's error")


if __name__ == "__main__":
    # Introspection first: the listings below leave subscribers running.
    run_introspection()
    run_patterns_and_counts()
    run_publisher_and_subscribers()
    run_listener_thread()
    run_cache_invalidation()
    run_event_bus()
    run_pitfalls()
    run_protocol_errors()
