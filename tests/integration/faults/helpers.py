"""Clients for the fault tests: signed-in HTTP sessions and /games players over real sockets."""

from __future__ import annotations

import re
import threading

import requests
import socketio as socketio_client
from sqlalchemy import select

from app.extensions import db
from app.sessions import services as session_services
from app.sessions.models import StudentGrant
from tests.conftest import PASSWORD

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf(http: requests.Session, url: str) -> str:
    return CSRF.search(http.get(url, timeout=10).text).group(1)


def sign_in(base: str, email: str) -> requests.Session:
    http = requests.Session()
    response = http.post(base + "/login", timeout=10, allow_redirects=False,
                         data={"email": email, "password": PASSWORD, "csrf_token": csrf(http, base + "/login")})
    assert response.status_code == 302, response.text[:500]
    return http


def join_and_get_admitted(base: str, room_id: int, code: str) -> requests.Session:
    """The student redeems the join code and says they are ready over HTTP; the therapist admits them."""
    http = requests.Session()
    http.post(base + "/join", timeout=10, data={"code": code, "csrf_token": csrf(http, base + "/join")})
    ready = f"{base}/sessions/rooms/{room_id}/ready"
    http.post(ready, data={"choice": "yes", "csrf_token": csrf(http, ready)}, timeout=10)
    grant = db.session.scalar(select(StudentGrant).where(StudentGrant.room_id == room_id))
    session_services.admit(grant.room.therapist, grant.room, grant)
    db.session.remove()
    return http


class Player:
    """A /games socket carrying the browser's session cookie.

    With `reconnection=True` it reconnects as the browser's socket.io-client does by default
    (static/js/games.js passes `reconnection: true` and keeps the defaults: first retry after 1 s,
    doubling up to 5 s, each delay randomised by ±50 %); python-socketio's defaults are the same.
    """

    def __init__(self, base: str, http: requests.Session, room_id: int, *, reconnection: bool = False):
        self.games: list[dict] = []
        self.connects = 0
        self.changed = threading.Condition()
        self.gone = threading.Event()
        self.client = socketio_client.Client(
            reconnection=reconnection, reconnection_attempts=0, reconnection_delay=1,
            reconnection_delay_max=5, randomization_factor=0.5)
        self.client.on("game", self._on_game, namespace="/games")
        self.client.on("connect", self._on_connect, namespace="/games")
        self.client.on("disconnect", lambda *_: self.gone.set(), namespace="/games")
        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
        self.client.connect(base, namespaces=["/games"], auth={"room": room_id}, transports=["websocket"],
                            # websocket-client sends the Origin (the server's own address) by itself.
                            headers={"Cookie": cookie}, wait_timeout=10)

    def _on_connect(self):
        with self.changed:
            self.connects += 1
            self.changed.notify_all()

    def _on_game(self, payload):
        with self.changed:
            self.games.append(payload)
            self.changed.notify_all()

    def wait_until(self, test, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(test, timeout)

    def wait_for(self, test, timeout: float = 5, *, since: int = 0) -> dict:
        """The latest `game` payload (among those from index `since`) for which `test` holds."""
        with self.changed:
            assert self.changed.wait_for(lambda: any(test(g) for g in self.games[since:]), timeout), self.games[-3:]
            return next(g for g in reversed(self.games[since:]) if test(g))

    def move(self, version: int, move_id: str, cell: int) -> dict:
        return self.client.call("move", {"version": version, "move_id": move_id, "move": {"cell": cell}},
                                namespace="/games", timeout=10)

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


def board(payload: dict) -> list:
    return (payload.get("state") or {}).get("board") or [None] * 9
