"""A slow PostgreSQL query must not stall other requests or sockets in the green async modes.

psycopg 3 waits on the socket with a C function unless told otherwise; under eventlet that wait
blocks the whole hub (psycopg detects gevent's patching itself, not eventlet's). wsgi.py selects
the select()-based wait for eventlet. This test runs the real server (wsgi.py, patched exactly as
in production) on PostgreSQL, starts a 2-second query, and meanwhile asks for a page and opens a
Socket.IO connection: both must answer long before the query ends.
"""

from __future__ import annotations

import threading
import time
import urllib.request

import pytest

from tests.conftest import DATABASE_URL, need_service
from tests.support.servers import running_server

SLOW_SECONDS = 2.0


def _get(url: str) -> tuple[float, str]:
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read().decode()
    return time.monotonic() - started, body


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_slow_query_does_not_stall_other_sockets(mode, database_url, tmp_path):
    need_service("PostgreSQL", DATABASE_URL.startswith("postgres"))
    with running_server(mode, database_url, tmp_path, script="tests/support/slow_query_server.py") as server:
        base = server.base_url
        _get(base + "/login")  # warm up: first request opens nothing slow
        slow_result = {}

        def run_slow():
            slow_result["elapsed"], slow_result["body"] = _get(f"{base}/__test__/slow/{SLOW_SECONDS}")

        worker = threading.Thread(target=run_slow)
        worker.start()
        time.sleep(0.4)  # the query is now running inside the server
        page_time, page = _get(base + "/login")
        socket_time, handshake = _get(base + "/socket.io/?EIO=4&transport=polling")
        worker.join(timeout=15)

    assert slow_result.get("body") == "slept", server.log()
    assert slow_result["elapsed"] >= SLOW_SECONDS
    assert "Sign in to Homeroom" in page
    assert handshake.startswith("0{")
    # Both answered while the query was still running (it had ~1.6 s left).
    assert page_time < 0.8, f"page waited {page_time:.2f}s behind the slow query"
    assert socket_time < 0.8, f"socket handshake waited {socket_time:.2f}s behind the slow query"
