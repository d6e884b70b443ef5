"""Fixtures for the games tests, built on the live-session fixtures (tests/integration/sessions).

* `game_room(scopes=SCOPES, live=True)` -> a LiveRoom for world's own student and therapist
  (an appointment starting now), consent granted for `scopes`; with live=True an admitted
  student grant has made it live (the grant's client is `room.student_client`).
* `student_client(room, admitted=True)`, `socket_for(...)`: the sessions fixtures, re-exported.
* `games_socket(flask_client, room_or_id)` -> an isolated Socket.IO test client on /games.
* `signed_in(user)` -> a Flask test client signed in as `user`; `therapist_client` for world's therapist.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.consent.models import SCOPES
from app.db_types import utcnow
from tests.conftest import login
from tests.integration.sessions.conftest import live_room, socket_for, student_client  # noqa: F401 - fixtures


@pytest.fixture
def game_room(live_room, student_client, grant_consent, world):  # noqa: F811 - the imported fixtures
    def make(*, scopes=SCOPES, live=True):
        grant_consent(world.own_student, world.therapist, scopes=list(SCOPES), allow=list(scopes),
                      now=utcnow() - timedelta(minutes=1))
        room = live_room(world, consent=False)
        if live:
            room.student_client = student_client(room)
        return room

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
def games_socket(socket_for):  # noqa: F811
    def connect(flask_client, room_or_id):
        room_id = room_or_id if isinstance(room_or_id, int) else room_or_id.id
        return socket_for(flask_client, None, namespace="/games", auth={"room": room_id})

    return connect


def received(sock, name: str) -> list:
    """The payloads of the `name` events this client received since last asked (then forgotten)."""
    return [m["args"][0] if m["args"] else None for m in sock.events("/games") if m["name"] == name]


def events_by_name(sock) -> dict[str, list]:
    out: dict[str, list] = {}
    for message in sock.events("/games"):
        out.setdefault(message["name"], []).append(message["args"][0] if message["args"] else None)
    return out
