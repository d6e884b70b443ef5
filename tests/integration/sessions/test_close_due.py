"""`flask sessions close-due`: every room past its time ends as a therapist's End does (sockets
hear `session_ended` and are cut off), once, however often and from however many places it runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import socketio as socketio_client
from sqlalchemy import create_engine, update

from app.audit.models import AuditEvent
from app.db_types import utcnow
from app.extensions import db
from app.sessions import services
from app.sessions.models import LiveRoom, RoomSocket, StudentGrant
from tests.conftest import PASSWORD, REDIS_URL, need_service
from tests.integration.sessions.test_sockets import _ended_within, _pair, _session_ended_reason
from tests.support.servers import running_server

ROOT = Path(__file__).resolve().parents[3]


def _past_its_time(room: LiveRoom) -> None:
    db.session.execute(update(LiveRoom).where(LiveRoom.id == room.id)
                       .values(closes_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def _ended_audits(room_id: int) -> int:
    return db.session.query(AuditEvent).filter_by(action="live_room.ended", target_id=room_id).count()


def test_close_due_ends_rooms_past_their_time_and_closes_their_sockets(app, world, client, live_room,
                                                                        student_client, socket_for, make_student,
                                                                        assign):
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    other = make_student(world.school_a)
    assign(world.therapist, other)
    still_open = live_room(student=other)
    _past_its_time(room)

    result = app.test_cli_runner().invoke(args=["sessions", "close-due"])
    assert result.exit_code == 0 and result.output.strip() == "Closed 1 room(s)."
    # Nobody sent anything: the job alone cut both sockets, as the therapist's End would.
    assert _ended_within([(therapist, "/call"), (student, "/call")])
    assert _session_ended_reason(therapist) == ["closed"] and _session_ended_reason(student) == ["closed"]
    room = db.session.get(LiveRoom, room.id, populate_existing=True)
    assert room.status == "ended" and room.ended_reason == "closed" and room.join_code is None
    assert db.session.query(RoomSocket).filter_by(room_id=room.id).count() == 0
    assert all(g.revoked_at is not None for g in db.session.query(StudentGrant).filter_by(room_id=room.id))
    assert db.session.get(LiveRoom, still_open.id, populate_existing=True).status == "open"

    again = app.test_cli_runner().invoke(args=["sessions", "close-due"])
    assert again.exit_code == 0 and again.output.strip() == "Closed 0 room(s)."
    assert _ended_audits(room.id) == 1


def test_close_due_with_a_later_now_closes_the_room_still_open(app, world, live_room):
    room = live_room(minutes=30)
    later = (room.closes_at + timedelta(seconds=1)).isoformat()
    early = app.test_cli_runner().invoke(args=["sessions", "close-due", "--now", room.opens_at.isoformat()])
    assert early.output.strip() == "Closed 0 room(s)."
    result = app.test_cli_runner().invoke(args=["sessions", "close-due", "--now", later])
    assert result.exit_code == 0 and result.output.strip() == "Closed 1 room(s)."
    room = db.session.get(LiveRoom, room.id, populate_existing=True)
    assert room.ended_reason == "closed" and room.ended_at == room.closes_at + timedelta(seconds=1)


def test_ending_a_room_someone_else_just_ended_changes_nothing(app, world, live_room, database_url):
    """The cron job and a socket event (or two cron runs) may end the same room at once: the room
    is claimed in the database, so only one of them records it and signals it."""
    from app.sessions.signals import room_ended

    room = live_room()
    assert room.status == "open"  # loaded here, before the other process acts
    other_process = create_engine(database_url)
    with other_process.begin() as conn:
        conn.execute(update(LiveRoom.__table__).where(LiveRoom.__table__.c.id == room.id)
                     .values(status="ended", ended_reason="therapist_ended", ended_at=utcnow(), join_code=None))
    other_process.dispose()
    heard = []

    def listen(sender, **kw):
        heard.append(kw)

    room_ended.connect(listen)
    try:
        assert services.end_room(room, "closed") is False
    finally:
        room_ended.disconnect(listen)
    assert heard == []
    assert room.status == "ended" and room.ended_reason == "therapist_ended"
    assert _ended_audits(room.id) == 0


# --- across processes: the cron job is its own process ------------------------------------------

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _csrf(http: requests.Session, url: str) -> str:
    return CSRF.search(http.get(url, timeout=5).text).group(1)


@pytest.mark.slow
@pytest.mark.redis
def test_close_due_in_its_own_process_cuts_off_sockets_held_by_the_server(app, world, live_room, database_url,
                                                                          tmp_path):
    need_service("Redis", bool(REDIS_URL))
    room = live_room()
    room_id, email = room.id, world.therapist.email
    db.session.remove()
    env = {"REDIS_URL": REDIS_URL}
    with running_server("eventlet", database_url, tmp_path / "server", extra_env=env) as server:
        http = requests.Session()
        http.post(server.base_url + "/login", timeout=10, data={
            "email": email, "password": PASSWORD, "csrf_token": _csrf(http, server.base_url + "/login")})
        events, gone = [], threading.Event()
        sock = socketio_client.Client(reconnection=False)
        sock.on("session_ended", lambda data: events.append(data), namespace="/call")
        sock.on("disconnect", lambda *_: gone.set(), namespace="/call")
        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
        sock.connect(server.base_url, namespaces=["/call"], auth={"room": room_id}, transports=["polling"],
                     headers={"Origin": server.base_url, "Cookie": cookie}, wait_timeout=10)
        try:
            assert sock.connected
            _past_its_time(db.session.get(LiveRoom, room_id))
            db.session.remove()
            job_env = {**os.environ, "ASYNC_MODE": "threading", "HOMEROOM_CONFIG": "development",
                       "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
                       "HOMEROOM_INSTANCE_DIR": str(tmp_path / "job"), "OUTBOX_DIR": str(tmp_path / "job" / "outbox")}
            started = time.monotonic()
            job = subprocess.run([sys.executable, "-m", "flask", "--app", "app:create_app", "sessions", "close-due"],
                                 cwd=ROOT, env=job_env, capture_output=True, text=True, timeout=60, check=False)
            assert job.returncode == 0, job.stderr
            assert job.stdout.strip().endswith("Closed 1 room(s).")
            assert gone.wait(2), "the server process kept the socket"
            assert time.monotonic() - started < 60
            assert events == [{"reason": "closed"}]
        finally:
            if sock.connected:
                sock.disconnect()
    assert db.session.get(LiveRoom, room_id).ended_reason == "closed"
