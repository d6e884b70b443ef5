"""The request context of a Socket.IO event (app/sockets.py SocketEventContext): a move neither
decodes the session cookie nor leaves its context in a reference cycle, and events that need the
session (connects, full checks) still read the handshake's cookie."""

from __future__ import annotations

import gc

import pytest

from app.games import events as games_events
from tests.integration.games.test_games_namespace import _current, _move, ttt  # noqa: F401 - fixture


@pytest.fixture
def unlimited(monkeypatch):
    for spec in games_events.GamesNamespace.EVENTS.values():
        monkeypatch.setattr(spec, "rate", 1e9)
        monkeypatch.setattr(spec, "burst", 10**9)


def _play(room, therapist, student, cells, prefix):
    version = _current(room).version
    for i, cell in enumerate(cells):
        ack = _move((therapist, student)[i % 2], version, cell, f"{prefix}-{i:04d}")
        assert ack["ok"], ack
        version = ack["version"]


def test_a_move_does_not_open_the_session_cookie(ttt, app, monkeypatch, unlimited):  # noqa: F811
    room, therapist, student = ttt
    _play(room, therapist, student, [0, 1], "warm")  # the first move may run the full check
    opened = []
    interface = app.session_interface
    original = interface.open_session
    monkeypatch.setattr(interface, "open_session", lambda *a: opened.append(1) or original(*a))
    _play(room, therapist, student, [2, 4, 3], "moves")
    assert opened == []
    # A therapist control runs the full check, which reads the signed-in session: it is opened then.
    therapist.emit("reset", {"first_player": "therapist"}, namespace="/games")
    assert opened
    assert [g["events"] for g in (m["args"][0] for m in student.events("/games") if m["name"] == "game")][-1] == [
        {"type": "reset"}]


def test_events_leave_no_request_context_for_the_cycle_collector(ttt, app, unlimited):  # noqa: F811
    from flask.ctx import RequestContext

    room, therapist, student = ttt
    _play(room, therapist, student, [0, 1], "warm")
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        _play(room, therapist, student, [2, 4, 3, 5], "moves")
        therapist.emit("reset", {"first_player": "therapist"}, namespace="/games")
        gc.collect()
        stranded = [o for o in gc.garbage if isinstance(o, RequestContext)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert stranded == []
