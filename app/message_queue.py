"""The Redis message queue that lets several server processes share Socket.IO rooms.

python-socketio's RedisManager builds its client with `Redis.from_url`, whose pool holds at most
100 connections and *raises* on the 101st. Under a burst every green thread that emits takes a
connection, the manager logs "Cannot publish to redis... giving up", and the message is lost.
A blocking pool of a bounded size makes a burst wait for a free connection instead.
"""

from __future__ import annotations

import socketio
from redis import BlockingConnectionPool, Redis


class BoundedRedisManager(socketio.RedisManager):
    def __init__(self, url: str, *, channel: str, max_connections: int, pool_timeout: float, **kwargs):
        super().__init__(url, channel=channel, **kwargs)
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout

    def _redis_connect(self):  # pragma: no cover - exercised through Redis in tests/integration/scale
        pool = BlockingConnectionPool.from_url(
            self.redis_url,
            max_connections=self.max_connections,
            timeout=self.pool_timeout,
            health_check_interval=30,
        )
        self.redis = Redis(connection_pool=pool)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True


def message_queue(config) -> BoundedRedisManager | None:
    url = config.get("REDIS_URL")
    if not url:
        return None
    return BoundedRedisManager(
        url,
        channel=config.get("SOCKETIO_CHANNEL", "homeroom-socketio"),
        max_connections=int(config.get("REDIS_MAX_CONNECTIONS", 50)),
        pool_timeout=float(config.get("REDIS_POOL_TIMEOUT", 10)),
    )
