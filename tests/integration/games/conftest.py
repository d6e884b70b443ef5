"""Fixtures for the games tests: a live room with consent, and socket clients for its people.

* `game_room(scopes=..., status="live", student=None, therapist=None)` -> LiveRoom for world's
  own student and therapist (an appointment starting now), consent granted for `scopes`.
* `student_client(room, admitted=True)` -> a Flask test client holding a grant for the room.
* `games_socket(flask_client, room)` -> a Socket.IO test client on /games for that room.
* `therapist_client` -> a Flask test client signed in as world's therapist.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.consent.models import SCOPES
from app.db_types import utcnow
from app.extensions import db, socketio
from tests.conftest import login

ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture
def game_room(app, world, grant_consent):
    from app.scheduling.models import Appointment
    from app.sessions.models import LiveRoom

    def make(*, scopes=SCOPES, status="live", student=None, therapist=None):
        student = student or world.own_student
        therapist = therapist or world.therapist
        if scopes:
            admin = world.district_admin if student.district_id == world.district.id else world.foreign_admin
            grant_consent(student, admin, scopes=list(SCOPES), allow=list(scopes))
        now = utcnow()
        start = now - timedelta(minutes=5)
        appointment = Appointment(
            district_id=student.district_id, school_id=student.school_id, therapist_id=therapist.id,
            student_id=student.id, starts_at=start, ends_at=start + timedelta(minutes=45),
            local_date=start.date(), modality="telehealth", status="scheduled", created_by_id=therapist.id,
        )
        db.session.add(appointment)
        db.session.flush()
        room = LiveRoom(
            district_id=student.district_id, appointment_id=appointment.id, therapist_id=therapist.id,
            student_id=student.id, opens_at=start - timedelta(minutes=10), closes_at=appointment.ends_at,
            status=status, started_at=now if status == "live" else None,
        )
        db.session.add(room)
        db.session.commit()
        return room

    return make


@pytest.fixture
def student_client(app):
    from app.sessions.models import StudentGrant

    def make(room, *, admitted=True, revoked=False):
        now = utcnow()
        grant = StudentGrant(district_id=room.district_id, room_id=room.id, student_id=room.student_id, via="code",
                             created_at=now, admitted_at=now if admitted else None, assent="yes" if admitted else None,
                             revoked_at=now if revoked else None)
        db.session.add(grant)
        db.session.commit()
        client = app.test_client()
        with client.session_transaction() as session:
            session["student_grants"] = {str(room.id): grant.id}
        client.grant = grant
        return client

    return make


@pytest.fixture
def signed_in(app):
    def make(user):
        client = app.test_client()
        response = login(client, user)
        assert response.status_code == 302
        return client

    return make


@pytest.fixture
def therapist_client(signed_in, world):
    return signed_in(world.therapist)


@pytest.fixture
def games_socket(app):
    opened = []

    def connect(flask_client, room_or_id, **kw):
        room_id = room_or_id if isinstance(room_or_id, int) else room_or_id.id
        sock = socketio.test_client(app, namespace="/games", flask_test_client=flask_client,
                                    auth={"room": room_id}, headers=ORIGIN, **kw)
        opened.append(sock)
        return sock

    yield connect
    for sock in opened:
        if sock.is_connected("/games"):
            sock.disconnect("/games")


def received(sock, name: str) -> list:
    """The payloads of the `name` events this client received since last asked."""
    return [message["args"][0] for message in sock.get_received("/games") if message["name"] == name]


def events_by_name(sock) -> dict[str, list]:
    out: dict[str, list] = {}
    for message in sock.get_received("/games"):
        out.setdefault(message["name"], []).append(message["args"][0] if message["args"] else None)
    return out
