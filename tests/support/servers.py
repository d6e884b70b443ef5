"""Start real Homeroom server processes (wsgi.py) on 127.0.0.1 for browser and cluster tests.

Servers bind loopback only, log to a file and are always stopped by the caller's fixture.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(process: subprocess.Popen | None) -> None:
    """Terminate a test's child process, killing it if it has not gone within 10 s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


class Server:
    def __init__(self, process: subprocess.Popen, base_url: str, log_path: Path):
        self.process = process
        self.base_url = base_url
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        stop_process(self.process)


def start_server(mode: str, database_url: str, workdir: Path, *, port: int | None = None,
                 extra_env: dict | None = None, timeout: float = 30, script: str = "wsgi.py",
                 command: list[str] | None = None) -> Server:
    """Start `python script` (or `command`, e.g. gunicorn, which must bind 127.0.0.1:`port`)."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "ASYNC_MODE": mode,
        "HOMEROOM_CONFIG": "development",
        "DATABASE_URL": database_url,
        "HOMEROOM_INSTANCE_DIR": str(workdir),
        "OUTBOX_DIR": str(workdir / "outbox"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PUBLIC_BASE_URL": base,
        "SOCKETIO_ALLOWED_ORIGINS": base,
        **(extra_env or {}),
    }
    log_path = workdir / f"server-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command or [sys.executable, script], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    server = Server(process, base, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited:\n{server.log()}")
        try:
            with urllib.request.urlopen(base + "/login", timeout=2) as response:
                response.read()
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise AssertionError(f"{mode} server did not start:\n{server.log()}")


@contextmanager
def running_server(*args, **kwargs):
    server = start_server(*args, **kwargs)
    try:
        yield server
    finally:
        server.stop()
