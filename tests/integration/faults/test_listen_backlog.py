"""A restarted server meets every client of the old one at once: wsgi.py must listen with a deep
accept queue (eventlet's default of 50 overflowed in the reconnect storm of docs/BENCHMARKS.md
section 5, and each dropped SYN left its client waiting 1 s, then 3 s, 7 s, to try again)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

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
