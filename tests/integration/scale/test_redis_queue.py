"""The Redis message queue: a burst of publishes from many threads loses nothing.

redis-py's default pool fails the 101st concurrent connection ("Too many connections"), and the
Socket.IO manager only logs a failed publish, so a burst silently lost moves. Homeroom's manager
uses a bounded *blocking* pool: a publish waits for a free connection instead.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.conftest import REDIS_URL, need_service

THREADS = 250
PER_THREAD = 8


@pytest.mark.redis
@pytest.mark.slow
def test_a_burst_of_publishes_through_redis_loses_nothing(make_app, app_config):
    need_service("Redis", bool(REDIS_URL))
    import redis

    channel = f"homeroom-test-{time.time_ns()}"
    app = make_app(**{**app_config, "REDIS_URL": REDIS_URL, "SOCKETIO_CHANNEL": channel, "REDIS_MAX_CONNECTIONS": 20})
    manager = app.extensions["socketio"].server.manager
    pool = manager.redis.connection_pool if manager.redis else None
    listener = redis.Redis.from_url(REDIS_URL).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(channel)
    received = []
    stop = threading.Event()

    def listen():
        while not stop.is_set():
            message = listener.get_message(timeout=0.2)
            if message and message["type"] == "message":
                received.append(json.loads(message["data"]))

    reader = threading.Thread(target=listen)
    reader.start()
    start = threading.Barrier(THREADS)

    def burst(n):
        start.wait()
        for i in range(PER_THREAD):
            manager._publish({"method": "emit", "event": "move", "data": [n, i], "namespace": "/bench"})

    workers = [threading.Thread(target=burst, args=(n,)) for n in range(THREADS)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    deadline = time.monotonic() + 10
    while len(received) < THREADS * PER_THREAD and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    reader.join(timeout=5)
    listener.close()

    pool = manager.redis.connection_pool
    assert type(pool).__name__ == "BlockingConnectionPool" and pool.max_connections == 20
    assert len(received) == THREADS * PER_THREAD
    assert {tuple(m["data"]) for m in received} == {(n, i) for n in range(THREADS) for i in range(PER_THREAD)}
    manager.redis.close()
