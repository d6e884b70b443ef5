"""How wsgi.py listens under eventlet.

A restarted server meets every client of the old one at once: it must listen with a deep accept
queue (eventlet's default of 50 overflowed in the reconnect storm of docs/BENCHMARKS.md section 5,
and each dropped SYN left its client waiting 1 s, then 3 s, 7 s, to try again). And its
connections send without Nagle's delay: a response of 16-64 KB otherwise waited 40 ms for the
client's delayed ACK (docs/BENCHMARKS.md section 4).
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import requests

from tests.support.servers import running_server


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2) to read the listen backlog")
def test_eventlet_server_listens_with_a_backlog_for_a_reconnect_storm(app, database_url, tmp_path):
    with running_server("eventlet", database_url, tmp_path) as server:
        port = server.base_url.rsplit(":", 1)[1]
        # For a listening socket, ss reports the backlog in the Send-Q column.
        lines = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                               check=True).stdout.split()
    backlog = int(lines[2])
    assert backlog >= 1024  # wsgi.LISTEN_BACKLOG (importing wsgi.py here would patch this process)


@pytest.mark.slow
def test_eventlet_server_sends_a_mid_sized_response_without_waiting_for_a_delayed_ack(app, database_url, tmp_path):
    with running_server("eventlet", database_url, tmp_path) as server, requests.Session() as http:
        url = server.base_url + "/static/js/call.js"
        size = len(http.get(url, timeout=10).content)
        assert 16_000 < size < 64_000  # more than eventlet's 16 KB write buffer, less than a TCP window
        times = []
        for _ in range(10):  # one kept-alive connection: past TCP's quick-ACK start
            started = time.perf_counter()
            assert http.get(url, timeout=10).status_code == 200
            times.append(time.perf_counter() - started)
    # With Nagle's algorithm every fetch took over 40 ms (the client's delayed ACK); a busy machine
    # slows some fetches, not all of them.
    assert min(times) < 0.030, [round(t * 1000, 1) for t in times]
