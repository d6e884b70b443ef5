"""wsgi.py serves the app and Socket.IO in each async mode; app code never imports a green library."""

import re
import urllib.request
from pathlib import Path

import pytest

from tests.support.servers import running_server

ROOT = Path(__file__).resolve().parents[3]


def test_app_code_never_imports_eventlet_or_gevent():
    offenders = []
    for path in (ROOT / "app").rglob("*.py"):
        for line in path.read_text().splitlines():
            if re.match(r"\s*(import|from)\s+(eventlet|gevent)\b", line):
                offenders.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert not offenders, offenders


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["eventlet", "gevent", "threading"])
def test_wsgi_serves_pages_and_socketio_in_each_async_mode(mode, database_url, tmp_path):
    with running_server(mode, database_url, tmp_path) as server:
        base = server.base_url
        with urllib.request.urlopen(base + "/login", timeout=5) as response:
            assert response.status == 200
            assert "Sign in to Homeroom" in response.read().decode()
        with urllib.request.urlopen(base + "/socket.io/?EIO=4&transport=polling", timeout=5) as response:
            assert response.status == 200
            assert response.read().decode().startswith("0{")  # the Engine.IO open packet
