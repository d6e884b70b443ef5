"""Two server processes behind one Redis message queue: ending a room in one process cuts off a
socket held by the other within 2 seconds (the emit and the disconnect go through the queue)."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests
import socketio as socketio_client

from app.extensions import db
from app.sessions import services
from app.sessions.models import StudentGrant
from tests.conftest import PASSWORD, REDIS_URL, need_service
from tests.support.servers import running_server

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _csrf(http: requests.Session, url: str) -> str:
    return CSRF.search(http.get(url, timeout=5).text).group(1)


def _socket(base: str, http: requests.Session, room_id: int, events: list, gone: threading.Event):
    client = socketio_client.Client(reconnection=False)
    client.on("session_ended", lambda data: events.append(data), namespace="/call")
    client.on("disconnect", lambda *_: gone.set(), namespace="/call")
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    client.connect(base, namespaces=["/call"], auth={"room": room_id}, transports=["polling"],
                   headers={"Origin": base, "Cookie": cookie}, wait_timeout=10)
    return client


@pytest.mark.slow
@pytest.mark.redis
def test_ending_a_room_disconnects_a_socket_held_by_another_process(app, world, live_room, database_url, tmp_path):
    need_service("Redis", bool(REDIS_URL))
    room = live_room()
    room_id, code, email = room.id, room.join_code, world.therapist.email
    db.session.remove()
    env = {"REDIS_URL": REDIS_URL}
    with running_server("eventlet", database_url, tmp_path / "a", extra_env=env) as server_a, \
            running_server("eventlet", database_url, tmp_path / "b", extra_env=env) as server_b:
        therapist_http = requests.Session()
        therapist_http.post(server_a.base_url + "/login", timeout=10, data={
            "email": email, "password": PASSWORD,
            "csrf_token": _csrf(therapist_http, server_a.base_url + "/login")})
        student_http = requests.Session()
        student_http.post(server_b.base_url + "/join", timeout=10, data={
            "code": code, "csrf_token": _csrf(student_http, server_b.base_url + "/join")})
        ready = f"{server_b.base_url}/sessions/rooms/{room_id}/ready"
        student_http.post(ready, data={"choice": "yes", "csrf_token": _csrf(student_http, ready)}, timeout=10)
        grant = db.session.query(StudentGrant).filter_by(room_id=room_id).one()
        services.admit(grant.room.therapist, grant.room, grant)
        db.session.remove()

        therapist_events, student_events = [], []
        therapist_gone, student_gone = threading.Event(), threading.Event()
        therapist = _socket(server_a.base_url, therapist_http, room_id, therapist_events, therapist_gone)
        student = _socket(server_b.base_url, student_http, room_id, student_events, student_gone)
        try:
            assert therapist.connected and student.connected
            page = f"{server_a.base_url}/sessions/rooms/{room_id}"
            started = time.monotonic()
            response = therapist_http.post(f"{page}/end", data={"csrf_token": _csrf(therapist_http, page)}, timeout=10)
            assert response.status_code == 200  # redirected to the room page, which says it ended
            assert student_gone.wait(2 - (time.monotonic() - started)), "the other process kept the student's socket"
            assert therapist_gone.wait(2 - (time.monotonic() - started))
            assert student_events == [{"reason": "therapist_ended"}]
            assert therapist_events == [{"reason": "therapist_ended"}]
        finally:
            for client in (therapist, student):
                if client.connected:
                    client.disconnect()
