"""Live-session fixtures.

* `live_room(world=None, *, student=None, therapist=None, consent=True, start=None, minutes=30)`:
  a factory. Books (directly, as a row) a telehealth appointment starting now (or at `start`) for
  world's own student with world's therapist (on the caseload), gives video + games consent
  (unless consent=False), opens its LiveRoom through `services.open_room` and returns the room.
  `room.appointment` is the appointment.
* `student_client(room, *, admitted=True, assent="yes")`: a new Flask test client whose session
  holds a StudentGrant for `room` (redeemed with the room's join code, assent recorded, admitted
  by the therapist unless admitted=False). The grant is `client.grant`.
* `admitted_student_client(room)`: `student_client(room)`, as named in the contract.
* `socket_for(client, room, namespace="/call", origin="http://localhost")`: a Socket.IO test
  client connected (or refused) with `auth={"room": room.id}`.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.globals import _cv_app

from app.db_types import utcnow
from app.extensions import db, socketio
from app.sessions import services

ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture
def live_room(request, grant_consent, make_user, link_guardian):
    from app.consent.services import legal_guardians
    from app.scheduling.models import Appointment

    def make(world=None, *, student=None, therapist=None, consent=True, start=None, minutes=30):
        world = world or request.getfixturevalue("world")
        student = student or world.own_student
        therapist = therapist or world.therapist
        start = start or utcnow().replace(second=0, microsecond=0)
        appointment = Appointment(
            district_id=student.district_id, school_id=student.school_id, therapist_id=therapist.id,
            student_id=student.id, starts_at=start, ends_at=start + timedelta(minutes=minutes),

            local_date=start.astimezone(ZoneInfo(student.school.timezone)).date(),
            modality="telehealth", status="scheduled", created_by_id=therapist.id)
        db.session.add(appointment)
        db.session.commit()
        at = min(start, utcnow())
        if consent:
            if not legal_guardians(student):
                link_guardian(make_user("guardian", student.school.district), student)
            grant_consent(student, therapist, scopes=["video_sessions", "games"], now=at - timedelta(minutes=1))
        return services.open_room(therapist, appointment, now=at)

    return make


@pytest.fixture
def student_client(app):
    def make(room, *, admitted=True, assent="yes"):
        client = app.test_client()
        grant = services.redeem_code(room.join_code)
        if assent:
            services.record_assent(grant, assent)
        if admitted:
            services.admit(room.therapist, room, grant)
        with client.session_transaction() as session:
            session["student_grants"] = {str(room.id): grant.id}
        client.grant = grant
        return client

    return make


@pytest.fixture
def admitted_student_client(student_client):
    return lambda room: student_client(room)


def run_isolated(call, *args, **kwargs):
    """Run like a socket event in production: in its own app context, not the test's."""
    token = _cv_app.set(None)
    try:
        return call(*args, **kwargs)
    finally:
        _cv_app.reset(token)


class IsolatedSocket:
    """A Socket.IO test client whose events run in their own app context, as in production
    (otherwise every socket would share the test's `g`, and so Flask-Login's cached user)."""

    def __init__(self, factory):
        self._sock = self._isolated(factory)

    _isolated = staticmethod(run_isolated)

    def emit(self, *args, **kwargs):
        return self._isolated(self._sock.emit, *args, **kwargs)

    def disconnect(self, *args, **kwargs):
        return self._isolated(self._sock.disconnect, *args, **kwargs)

    def events(self, namespace="/call") -> list:
        """Everything received so far (connected or not), and forget it."""
        received = [m for m in self._sock.queue if m["namespace"] == namespace]
        self._sock.queue[:] = [m for m in self._sock.queue if m["namespace"] != namespace]
        return received

    def names(self, namespace="/call") -> list[str]:
        return [m["name"] for m in self.events(namespace)]

    def __getattr__(self, name):
        return getattr(self._sock, name)


@pytest.fixture
def socket_for(app):
    made = []

    def connect(client, room, namespace="/call", origin="http://localhost", auth=None):
        headers = {"Origin": origin} if origin else {}
        auth = auth if auth is not None else {"room": room.id}
        sock = IsolatedSocket(lambda: socketio.test_client(
            app, namespace=namespace, flask_test_client=client, auth=auth, headers=headers))
        made.append((sock, namespace))
        return sock

    yield connect
    for sock, namespace in made:
        if sock.is_connected(namespace):
            sock.disconnect(namespace)
