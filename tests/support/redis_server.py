"""A throwaway redis-server on a free 127.0.0.1 port, for tests that restart Redis.

The machine's shared Redis must never be restarted by a test. `redis_server()` starts one in a
temporary directory (no persistence, loopback only), yields a `RedisServer` whose `restart()`
stops it and starts it again on the same port, and always stops it afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import free_port, stop_process

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def redis_server_available() -> bool:
    return Path(REDIS_SERVER).is_file() and os.access(REDIS_SERVER, os.X_OK)


def _command(sock: socket.socket, *words: str) -> bytes:
    payload = f"*{len(words)}\r\n" + "".join(f"${len(w.encode())}\r\n{w}\r\n" for w in words)
    sock.sendall(payload.encode())
    return sock.recv(65536)


class RedisServer:
    def __init__(self, directory: Path, port: int):
        self.directory = directory
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.log_path = directory / "redis.log"
        self.process: subprocess.Popen | None = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                return _command(sock, "PING").startswith(b"+PONG")
        except OSError:
            return False

    def subscribers(self, channel: str) -> int:
        """How many connections are subscribed to `channel` (PUBSUB NUMSUB), -1 if Redis is down."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                reply = _command(sock, "PUBSUB", "NUMSUB", channel)
        except OSError:
            return -1
        # *2\r\n$<len>\r\n<channel>\r\n:<count>\r\n
        return int(reply.rsplit(b":", 1)[1].split(b"\r\n", 1)[0])

    def start(self, timeout: float = 10) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                 "--appendonly", "no", "--dir", str(self.directory), "--protected-mode", "yes"],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited:\n{self.log()}")
            if self.ping():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start:\n{self.log()}")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def restart(self) -> None:
        """Stop Redis (every connection and subscription is dropped) and start it on the same port."""
        self.stop()
        self.start()


@contextmanager
def redis_server():
    """A running throwaway Redis; always stopped and its directory removed."""
    directory = Path(tempfile.mkdtemp(prefix="homeroom-redis-"))
    server = RedisServer(directory, free_port())
    try:
        server.start()
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(directory, ignore_errors=True)
