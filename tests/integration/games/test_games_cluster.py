"""Two server processes behind one Redis message queue: the therapist's /games socket on one, the
student's on the other. A move made on one process reaches the other; a guardian withdrawing games
consent (on the first process) closes both sockets within 2 seconds."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests
import socketio as socketio_client
from sqlalchemy import select

from app.extensions import db
from app.sessions import services as session_services
from app.sessions.models import StudentGrant
from tests.conftest import PASSWORD, REDIS_URL, need_service
from tests.support.servers import running_server

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _csrf(http: requests.Session, url: str) -> str:
    return CSRF.search(http.get(url, timeout=5).text).group(1)


class Player:
    def __init__(self, base: str, http: requests.Session, room_id: int):
        self.games: list[dict] = []
        self.changed = threading.Condition()
        self.gone = threading.Event()
        self.client = socketio_client.Client(reconnection=False)
        self.client.on("game", self._on_game, namespace="/games")
        self.client.on("disconnect", lambda *_: self.gone.set(), namespace="/games")
        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
        self.client.connect(base, namespaces=["/games"], auth={"room": room_id}, transports=["polling"],
                            headers={"Origin": base, "Cookie": cookie}, wait_timeout=10)

    def _on_game(self, payload):
        with self.changed:
            self.games.append(payload)
            self.changed.notify_all()

    def wait_for(self, test, timeout: float = 5) -> dict:
        with self.changed:
            assert self.changed.wait_for(lambda: any(test(g) for g in self.games), timeout), self.games[-3:]
            return next(g for g in reversed(self.games) if test(g))


@pytest.mark.slow
@pytest.mark.redis
def test_a_move_crosses_processes_and_revoking_games_consent_closes_both_sockets(
        app, world, game_room, database_url, tmp_path):
    from app.consent.models import ConsentRequest

    need_service("Redis", bool(REDIS_URL))
    room = game_room(live=False)
    room_id, code, email = room.id, room.join_code, world.therapist.email
    student_id, guardian_email = world.own_student.id, world.guardian.email
    db.session.remove()
    env = {"REDIS_URL": REDIS_URL}
    with running_server("eventlet", database_url, tmp_path / "a", extra_env=env) as server_a, \
            running_server("eventlet", database_url, tmp_path / "b", extra_env=env) as server_b:
        therapist_http = requests.Session()
        therapist_http.post(server_a.base_url + "/login", timeout=10, data={
            "email": email, "password": PASSWORD, "csrf_token": _csrf(therapist_http, server_a.base_url + "/login")})
        student_http = requests.Session()
        student_http.post(server_b.base_url + "/join", timeout=10, data={
            "code": code, "csrf_token": _csrf(student_http, server_b.base_url + "/join")})
        ready = f"{server_b.base_url}/sessions/rooms/{room_id}/ready"
        student_http.post(ready, data={"choice": "yes", "csrf_token": _csrf(student_http, ready)}, timeout=10)
        grant = db.session.scalar(select(StudentGrant).where(StudentGrant.room_id == room_id))
        session_services.admit(grant.room.therapist, grant.room, grant)
        db.session.remove()

        therapist = Player(server_a.base_url, therapist_http, room_id)
        student = Player(server_b.base_url, student_http, room_id)
        try:
            therapist.client.emit("start", {"game": "tic_tac_toe", "first_player": "student"}, namespace="/games")
            started = student.wait_for(lambda g: g.get("game") == "tic_tac_toe")
            answer = student.client.call("move", {"version": started["version"], "move_id": "cluster-move-1",
                                                  "move": {"cell": 4}}, namespace="/games", timeout=5)
            assert answer["ok"] is True
            therapist.wait_for(lambda g: g.get("state", {}).get("board", [None] * 9)[4] == "student")

            request_id = db.session.scalar(select(ConsentRequest.id).where(ConsentRequest.student_id == student_id))
            guardian_http = requests.Session()
            guardian_http.post(server_a.base_url + "/login", timeout=10, data={
                "email": guardian_email, "password": PASSWORD,
                "csrf_token": _csrf(guardian_http, server_a.base_url + "/login")})
            token = _csrf(guardian_http, server_a.base_url + "/home")
            began = time.monotonic()
            response = guardian_http.post(f"{server_a.base_url}/consent/requests/{request_id}/revoke", timeout=10,
                                          data={"scopes": ["games"], "csrf_token": token}, allow_redirects=False)
            assert response.status_code == 302
            assert student.gone.wait(2 - (time.monotonic() - began)), "the student's games socket stayed open"
            assert therapist.gone.wait(2 - (time.monotonic() - began)), "the therapist's games socket stayed open"
        finally:
            for player in (therapist, student):
                if player.client.connected:
                    player.client.disconnect()


def _revoke_games_consent(ids):
    from app.auth.models import User
    from app.consent.models import ConsentRequest
    from app.consent.services import revoke

    request = db.session.scalar(select(ConsentRequest).where(ConsentRequest.student_id == ids["student"]))
    revoke(request, db.session.get(User, ids["guardian"]), ["games"])


def _deactivate_therapist(ids):
    from app.auth.models import User
    from app.auth.services import deactivate_user

    deactivate_user(db.session.get(User, ids["district_admin"]), db.session.get(User, ids["therapist"]), ip=None)


def _end_room(ids):
    from app.auth.models import User
    from app.sessions.models import LiveRoom
    from app.sessions.services import end_room

    end_room(db.session.get(LiveRoom, ids["room"]), "therapist_ended", actor=db.session.get(User, ids["therapist"]))


@pytest.mark.slow
@pytest.mark.parametrize("change", [_revoke_games_consent, _deactivate_therapist, _end_room])
def test_a_move_sent_before_the_disconnect_arrives_is_refused_by_another_process(
        app, world, game_room, database_url, tmp_path, change):
    """The change is made in this (test) process, whose signal handlers cannot reach the server's
    sockets (no message queue): the server never hears a disconnect, and its cached decision must
    still refuse both sockets' next move, with nothing saved."""
    from app.games.models import GameSession

    room = game_room(live=False)
    room_id, code, email = room.id, room.join_code, world.therapist.email
    ids = {"room": room_id, "student": world.own_student.id, "guardian": world.guardian.id,
           "therapist": world.therapist.id, "district_admin": world.district_admin.id}
    db.session.remove()
    with running_server("eventlet", database_url, tmp_path / "a") as server:
        therapist_http = requests.Session()
        therapist_http.post(server.base_url + "/login", timeout=10, data={
            "email": email, "password": PASSWORD, "csrf_token": _csrf(therapist_http, server.base_url + "/login")})
        student_http = requests.Session()
        student_http.post(server.base_url + "/join", timeout=10, data={
            "code": code, "csrf_token": _csrf(student_http, server.base_url + "/join")})
        ready = f"{server.base_url}/sessions/rooms/{room_id}/ready"
        student_http.post(ready, data={"choice": "yes", "csrf_token": _csrf(student_http, ready)}, timeout=10)
        grant = db.session.scalar(select(StudentGrant).where(StudentGrant.room_id == room_id))
        session_services.admit(grant.room.therapist, grant.room, grant)
        db.session.remove()

        therapist = Player(server.base_url, therapist_http, room_id)
        student = Player(server.base_url, student_http, room_id)
        try:
            therapist.client.emit("start", {"game": "drawing_board", "first_player": "student"}, namespace="/games")
            version = student.wait_for(lambda g: g.get("game") == "drawing_board")["version"]
            for n, player in enumerate((student, therapist, student, therapist)):  # each socket caches its decision
                answer = player.client.call("move", {"version": version, "move_id": f"cached-stroke-{n}", "move": {
                    "kind": "stroke", "stroke_id": f"s{n}", "color": "blue", "width": 3,
                    "points": [[0.1, 0.1], [0.2, 0.2]]}}, namespace="/games", timeout=5)
                assert answer["ok"] is True, answer
                version = answer["version"]

            change(ids)
            db.session.remove()

            for n, player in enumerate((student, therapist)):
                answer = player.client.call("move", {"version": version, "move_id": f"after-change-{n}", "move": {
                    "kind": "stroke", "stroke_id": f"late{n}", "color": "blue", "width": 3,
                    "points": [[0.3, 0.3], [0.4, 0.4]]}}, namespace="/games", timeout=5)
                assert answer["ok"] is False and answer["code"] in ("forbidden", "no_consent", "not_live"), answer
                assert player.client.connected and not player.gone.is_set()  # no disconnect did it
            strokes = db.session.scalar(select(GameSession.state).where(GameSession.room_id == room_id))["strokes"]
            assert not any(stroke["id"].startswith("late") for stroke in strokes)
        finally:
            for player in (therapist, student):
                if player.client.connected:
                    player.client.disconnect()
