"""The serving commands of docs/DEPLOYMENT.md serve Homeroom: pages and Socket.IO over WebSocket.

    ASYNC_MODE=gevent gunicorn -k gevent -w 1 -b 127.0.0.1:PORT wsgi:app
    ASYNC_MODE=eventlet python wsgi.py                  (PORT from the environment)

Each is started exactly so (development profile and a test database, loopback only), a therapist
signs in over HTTP, a student joins by code and is admitted, both open the /games socket with the
WebSocket transport only (as call.js and waiting.js do), the therapist starts a game and the student
receives it; a page answers while the sockets are open. The server is always stopped.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from app.extensions import db
from tests.integration.faults.helpers import Player, join_and_get_admitted, sign_in
from tests.integration.games.conftest import game_room  # noqa: F401 - fixture
from tests.integration.sessions.conftest import live_room, student_client  # noqa: F401 - fixtures
from tests.support.servers import free_port, start_server

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def _commands(port: int) -> dict[str, tuple[str, list[str] | None]]:
    return {
        # (ASYNC_MODE, command); None = `python wsgi.py`
        "gunicorn-gevent": ("gevent", [GUNICORN, "-k", "gevent", "-w", "1", "-b", f"127.0.0.1:{port}", "wsgi:app"]),
        "eventlet": ("eventlet", None),
    }


def _stop(server) -> None:
    # gunicorn: SIGINT is its quick shutdown (the master stops its worker, then exits).
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["gunicorn-gevent", "eventlet"])
def test_documented_command_serves_pages_and_websocket_games(how, app, world, game_room, database_url,  # noqa: F811
                                                             tmp_path):
    room = game_room(live=False)
    room_id, code, email, name = room.id, room.join_code, world.therapist.email, world.therapist.name
    db.session.remove()
    port = free_port()
    mode, command = _commands(port)[how]
    # gunicorn 25.1+ opens a control socket in $XDG_RUNTIME_DIR (else ~/.gunicorn): keep it in the test's directory.
    server = start_server(mode, database_url, tmp_path, port=port, command=command,
                          extra_env={"XDG_RUNTIME_DIR": str(tmp_path)})
    players: list[Player] = []
    try:
        base = server.base_url
        therapist_http = sign_in(base, email)
        student_http = join_and_get_admitted(base, room_id, code)
        therapist = Player(base, therapist_http, room_id)
        student = Player(base, student_http, room_id)
        players = [therapist, student]
        for player in players:
            assert player.client.transport() == "websocket"
        therapist.client.emit("start", {"game": "tic_tac_toe", "first_player": "student"}, namespace="/games")
        started = student.wait_for(lambda g: g.get("game") == "tic_tac_toe", 10)
        assert student.move(started["version"], "serve-move-1", 4)["ok"] is True
        therapist.wait_for(lambda g: (g.get("state") or {}).get("board", [None] * 9)[4] == "student", 10)

        page = requests.get(base + "/home", cookies=therapist_http.cookies, timeout=10, allow_redirects=False)
        assert page.status_code == 200 and name in page.text
        if how == "gunicorn-gevent":
            log = server.log()
            assert "Using worker: gevent" in log and "Booting worker" in log, log
            assert f"Control socket listening at {tmp_path}" in log, log
    finally:
        for player in players:
            player.close()
        _stop(server)
    assert server.process.poll() is not None


def test_the_served_app_keeps_its_startup_objects_away_from_the_cycle_collector(tmp_path):
    """wsgi.py freezes what create_app built (gc.freeze), so a full collection in a loaded server
    walks only the objects made since (docs/BENCHMARKS.md section 1)."""
    import os

    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "ASYNC_MODE": "threading", "HOMEROOM_CONFIG": "development",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'frozen.sqlite3'}", "HOMEROOM_INSTANCE_DIR": str(tmp_path)}
    script = "import gc, wsgi; print(gc.get_freeze_count(), len(gc.get_objects()))"
    out = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    frozen, tracked = int(out[-2]), int(out[-1])
    assert frozen > 50_000 and tracked < frozen // 5, (frozen, tracked)
