"""Moves reuse the last full authorization (app/sessions/access.py `standing`) only while nothing it
read has changed: every change below is made straight in the database, with no signal and so no
disconnect, after a move has been authorized (and its decision cached), and the very next move
must be refused with nothing changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, event, select, update

from app.db_types import utcnow
from app.extensions import db
from app.games.models import GameSession
from tests.integration.games.conftest import events_by_name, received


def _current(room):
    db.session.expire_all()
    return db.session.scalar(select(GameSession).where(GameSession.room_id == room.id, GameSession.status != "ended"))


def _move(sock, version, cell, move_id):
    return sock.emit("move", {"version": version, "move_id": move_id, "move": {"cell": cell}}, namespace="/games",
                     callback=True)


@pytest.fixture(params=["after moves", "just connected"])
def playing(request, game_room, therapist_client, games_socket):
    """Tic-tac-toe where both sockets hold a cached decision: from a move each made ("after
    moves"), or from their connect check ("just connected")."""
    room = game_room()
    therapist = games_socket(therapist_client, room)
    student = games_socket(room.student_client, room)
    therapist.emit("start", {"game": "tic_tac_toe", "first_player": "therapist"}, namespace="/games")
    if request.param == "after moves":
        assert _move(therapist, _current(room).version, 0, "cached-move-1")["ok"]
        assert _move(student, _current(room).version, 3, "cached-move-2")["ok"]
    therapist.events("/games")
    student.events("/games")
    return room, therapist, student


class Statements:
    def __init__(self):
        self.count = 0
        self.seen = []

    def __call__(self, _conn, _cursor, statement, *_args):
        self.count += 1
        self.seen.append(statement)


def _statements_during(action) -> tuple[object, int]:
    counter = Statements()
    engine = db.engine
    event.listen(engine, "before_cursor_execute", counter)
    try:
        result = action()
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    return result, counter.count


def test_a_cached_move_reads_one_authorization_statement_and_saves_with_one_update(playing):
    room, therapist, _student = playing
    version = _current(room).version
    board = _current(room).state["board"]
    cell = board.index(None) if board[0] is None else 4
    answer, statements = _statements_during(lambda: _move(therapist, version, cell, "counted-move"))
    assert answer["ok"] is True
    # The fingerprint, the game row, the compare-and-set UPDATE (was 13-15 before the cache); the
    # first move after connecting too: the connect check is reused.
    assert statements == 3
    assert _current(room).state["board"][cell] == "therapist"


def _revoke_consent(scope):
    def change(room, world):
        from app.consent.models import ConsentGrant

        db.session.execute(update(ConsentGrant).where(ConsentGrant.student_id == room.student_id,
                                                      ConsentGrant.scope == scope).values(revoked_at=utcnow()))
    return change


def _deactivate_therapist(room, world):
    from app.auth.models import User

    db.session.execute(update(User).where(User.id == room.therapist_id).values(active=False))


def _sign_out_everywhere(room, world):
    from app.auth.models import UserSession

    db.session.execute(update(UserSession).where(UserSession.user_id == room.therapist_id).values(revoked_at=utcnow()))


def _end_room(room, world):
    from app.sessions.models import LiveRoom

    db.session.execute(update(LiveRoom).where(LiveRoom.id == room.id).values(status="ended", ended_at=utcnow()))


def _take_off_caseload(room, world):
    from app.districts.models import CaseloadAssignment

    db.session.execute(update(CaseloadAssignment).where(CaseloadAssignment.student_id == room.student_id)
                       .values(ends_on=(utcnow() - timedelta(days=1)).date()))


def _deactivate_student(room, world):
    from app.districts.models import Student

    db.session.execute(update(Student).where(Student.id == room.student_id).values(active=False))


def _revoke_grant(room, world):
    from app.sessions.models import StudentGrant

    db.session.execute(update(StudentGrant).where(StudentGrant.room_id == room.id).values(revoked_at=utcnow()))


def _close_sockets(room, world):
    """What close_room_sockets / close_games / close_actor_sockets leave behind in the database
    when their disconnect has not reached the socket's process yet."""
    from app.sessions.models import RoomSocket

    db.session.execute(delete(RoomSocket).where(RoomSocket.room_id == room.id))


CHANGES = {
    "games consent revoked": (_revoke_consent("games"), ("therapist", "student")),
    "video consent revoked": (_revoke_consent("video_sessions"), ("therapist", "student")),
    "therapist deactivated": (_deactivate_therapist, ("therapist",)),
    "therapist signed out": (_sign_out_everywhere, ("therapist",)),
    "room ended": (_end_room, ("therapist", "student")),
    "taken off the caseload": (_take_off_caseload, ("therapist",)),
    "student record deactivated": (_deactivate_student, ("therapist",)),
    "grant revoked": (_revoke_grant, ("student",)),
    "sockets closed elsewhere": (_close_sockets, ("therapist", "student")),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_player_cannot_move_right_after_a_change_that_sent_no_disconnect(playing, world, change):
    room, therapist, student = playing
    mutate, refused_roles = CHANGES[change]
    sockets = {"therapist": therapist, "student": student}
    before = _current(room)
    version, board = before.version, list(before.state["board"])
    mutate(room, world)
    db.session.commit()
    for role in refused_roles:
        sock = sockets[role]
        answer = _move(sock, version, 8 if role == "therapist" else 7, f"after-change-{role}")
        assert answer["ok"] is False, (change, role, answer)
        assert answer["code"] != "not_your_turn"  # refused by authorization, before the rules
        assert sock.is_connected("/games")  # no disconnect reached it: the check alone refused
        after = _current(room)
        assert after is None or (after.version == version and after.state["board"] == board)


def test_a_sync_is_refused_too_after_consent_is_revoked(playing):
    room, therapist, _student = playing
    _revoke_consent("games")(room, None)
    db.session.commit()
    therapist.emit("sync", None, namespace="/games")
    got = events_by_name(therapist)
    assert [e["code"] for e in got["error"]] == ["no_consent"] and "game" not in got


def test_consent_restored_lets_the_next_move_through(playing, grant_consent, world):
    """Not a cache that only ever says no: a changed fingerprint runs the full check again."""
    room, therapist, _student = playing
    _revoke_consent("games")(room, world)
    db.session.commit()
    version = _current(room).version
    assert _move(therapist, version, 8, "refused-move")["code"] == "no_consent"
    grant_consent(world.own_student, world.therapist, scopes=["games"], now=utcnow() - timedelta(seconds=1))
    assert _move(therapist, version, 8, "allowed-move")["ok"] is True


def test_one_move_id_is_refused_the_second_time_with_the_cache(playing):
    room, therapist, student = playing
    version = _current(room).version
    assert _move(therapist, version, 4, "twice-same-id")["ok"]
    assert _move(student, version + 1, 5, "twice-same-id")["code"] == "duplicate"
    assert _current(room).version == version + 1


# --- the drawing board: deltas, caps -------------------------------------------------------------


def _stroke(stroke_id, points=None):
    return {"kind": "stroke", "stroke_id": stroke_id, "color": "blue", "width": 4,
            "points": points or [[0.1, 0.1], [0.2, 0.2]]}


def _draw(sock, version, stroke, move_id):
    return sock.emit("move", {"version": version, "move_id": move_id, "move": stroke}, namespace="/games",
                     callback=True)


@pytest.fixture
def drawing(game_room, therapist_client, games_socket):
    room = game_room()
    therapist = games_socket(therapist_client, room)
    student = games_socket(room.student_client, room)
    therapist.emit("start", {"game": "drawing_board", "first_player": "student"}, namespace="/games")
    therapist.events("/games")
    student.events("/games")
    return room, therapist, student


def test_a_stroke_is_broadcast_as_a_delta_not_the_whole_board(drawing):
    room, therapist, student = drawing
    version = _current(room).version
    assert _draw(student, version, _stroke("first"), "draw-move-1")["ok"]
    assert _draw(therapist, version + 1, _stroke("second"), "draw-move-2")["ok"]
    for sock in (therapist, student):
        first, second = received(sock, "game")
        for game, stroke_id, player, v in ((first, "first", "student", version + 1),
                                           (second, "second", "therapist", version + 2)):
            assert game["delta"] is True and "state" not in game and game["version"] == v
            assert [(e["type"], e["stroke"]["id"], e["player"]) for e in game["events"]] == [
                ("stroke", stroke_id, player)]
    # A sync and a reconnect send the whole saved board.
    student.emit("sync", None, namespace="/games")
    [synced] = received(student, "game")
    assert "delta" not in synced and [s["id"] for s in synced["state"]["strokes"]] == ["first", "second"]


def test_undo_and_clear_are_deltas_too(drawing):
    room, therapist, student = drawing
    version = _current(room).version
    assert _draw(student, version, _stroke("mine"), "undo-move-1")["ok"]
    assert student.emit("move", {"version": version + 1, "move_id": "undo-move-2", "move": {"kind": "undo"}},
                        namespace="/games", callback=True)["ok"]
    assert therapist.emit("move", {"version": version + 2, "move_id": "undo-move-3", "move": {"kind": "clear"}},
                          namespace="/games", callback=True)["ok"]
    events = [g["events"] for g in received(therapist, "game")]
    assert events[1] == [{"type": "undo", "player": "student", "stroke_id": "mine"}]
    assert events[2] == [{"type": "clear", "player": "therapist"}]


def test_player_cannot_draw_past_the_board_point_cap(drawing, monkeypatch):
    from app.games.rules import drawing_board

    monkeypatch.setattr(drawing_board, "MAX_BOARD_POINTS", 6)
    room, therapist, student = drawing
    version = _current(room).version
    four = [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.4, 0.4]]
    assert _draw(student, version, _stroke("a", four), "cap-move-1")["ok"]
    answer = _draw(therapist, version + 1, _stroke("b", four), "cap-move-2")
    assert answer["ok"] is False and answer["code"] == "board_full"
    assert "clear" in answer["message"]
    assert _current(room).version == version + 1 and len(_current(room).state["strokes"]) == 1
    assert _draw(therapist, version + 1, _stroke("c"), "cap-move-3")["ok"]  # 6 points: exactly the cap


def test_player_cannot_send_a_stroke_with_too_many_points(drawing):
    room, _therapist, student = drawing
    version = _current(room).version
    answer = _draw(student, version, _stroke("long", [[0.5, 0.5]] * 501), "long-move")
    assert answer["ok"] is False and answer["code"] == "malformed" and "500" in answer["message"]
    assert _current(room).version == version


def test_strokes_are_rate_limited_per_socket(drawing):
    room, _therapist, student = drawing
    codes = []
    for n in range(40):
        version = _current(room).version
        codes.append(_draw(student, version, _stroke(f"flood{n}"), f"flood-move-{n:03d}").get("code"))
    assert "rate_limited" in codes
    saved = len(_current(room).state["strokes"])
    assert saved == codes.count(None) and saved < 40


def test_a_cached_decision_is_checked_in_full_again_after_a_minute(playing, monkeypatch):
    import time

    from app.games.events import GamesNamespace
    from app.sessions import access

    room, therapist, _student = playing
    later = time.monotonic() + GamesNamespace.REAUTHORIZE_AFTER + 1
    monkeypatch.setattr(access.time, "monotonic", lambda: later)
    board = _current(room).state["board"]
    cell = board.index(None)
    answer, statements = _statements_during(lambda: _move(therapist, _current(room).version, cell, "a-minute-later"))
    assert answer["ok"] is True
    assert statements > 6  # the full check: room, actor and session, caseload, consent ...
