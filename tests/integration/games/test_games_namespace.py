"""The /games namespace: who may connect, therapist-only controls, and moves that must change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db_types import utcnow
from app.extensions import db
from app.games.models import GameSession, MoodCheckin
from tests.integration.games.conftest import events_by_name, received


def _current(room):
    db.session.expire_all()
    return db.session.scalar(select(GameSession).where(GameSession.room_id == room.id, GameSession.status != "ended"))


def _errors(sock) -> list[str]:
    return [e["code"] for e in received(sock, "error")]


@pytest.fixture
def ttt(game_room, therapist_client, games_socket):
    """A live room with tic-tac-toe started by the therapist, the therapist going first."""
    room = game_room()
    therapist = games_socket(therapist_client, room)
    student = games_socket(room.student_client, room)
    assert therapist.is_connected("/games") and student.is_connected("/games")
    therapist.emit("start", {"game": "tic_tac_toe", "first_player": "therapist"}, namespace="/games")
    therapist.events("/games")
    student.events("/games")
    return room, therapist, student


def _move(sock, version, cell, move_id="move-0001"):
    return sock.emit("move", {"version": version, "move_id": move_id, "move": {"cell": cell}}, namespace="/games",
                     callback=True)


# --- connecting ---------------------------------------------------------------------------------


def test_therapist_and_student_can_connect_and_get_the_saved_state(game_room, therapist_client, games_socket):
    room = game_room()
    therapist = games_socket(therapist_client, room)
    student = games_socket(room.student_client, room)
    assert therapist.is_connected("/games") and student.is_connected("/games")
    assert received(student, "game") == [{"status": "none", "events": []}]


def test_student_cannot_connect_without_games_consent(game_room, therapist_client, games_socket):
    room = game_room(scopes=("video_sessions",))
    assert not games_socket(room.student_client, room).is_connected("/games")
    assert not games_socket(therapist_client, room).is_connected("/games")


def test_student_cannot_connect_before_being_admitted(game_room, student_client, games_socket):
    room = game_room(live=False)
    assert not games_socket(student_client(room, admitted=False), room).is_connected("/games")


def test_nobody_can_connect_before_the_room_is_live(game_room, therapist_client, games_socket):
    room = game_room(live=False)
    assert not games_socket(therapist_client, room).is_connected("/games")


def test_student_cannot_connect_to_another_room(game_room, games_socket):
    room, other = game_room(), game_room()
    assert not games_socket(room.student_client, other).is_connected("/games")
    assert games_socket(room.student_client, room).is_connected("/games")


@pytest.mark.parametrize("who", ["other_therapist", "foreign_therapist", "guardian", "district_admin"])
def test_others_cannot_connect(game_room, signed_in, games_socket, world, who):
    room = game_room()
    assert not games_socket(signed_in(getattr(world, who)), room).is_connected("/games")


def test_anonymous_cannot_connect(app, game_room, games_socket):
    room = game_room()
    assert not games_socket(app.test_client(), room).is_connected("/games")


def test_nobody_can_connect_to_a_missing_room(therapist_client, games_socket):
    assert not games_socket(therapist_client, 999_999).is_connected("/games")


# --- therapist controls ---------------------------------------------------------------------------


def test_therapist_can_start_a_game_and_both_see_it(game_room, therapist_client, games_socket):
    room = game_room()
    therapist = games_socket(therapist_client, room)
    student = games_socket(room.student_client, room)
    therapist.events("/games")
    student.events("/games")
    therapist.emit("start", {"game": "tic_tac_toe", "first_player": "student"}, namespace="/games")
    for sock in (therapist, student):
        [game] = received(sock, "game")
        assert game["game"] == "tic_tac_toe" and game["status"] == "active" and game["state"]["turn"] == "student"
        assert game["events"] == [{"type": "started", "game": "tic_tac_toe"}]


@pytest.mark.parametrize("event, payload", [
    ("start", {"game": "connect_four", "first_player": "student"}),
    ("reset", {}),
    ("end", {}),
    ("pause", {"paused": True}),
    ("lock", {"locked": False}),
])
def test_student_cannot_use_therapist_controls(ttt, event, payload):
    room, _therapist, student = ttt
    before = _current(room)
    version, game = before.version, before.game
    student.emit(event, payload, namespace="/games")
    assert _errors(student) == ["therapist_only"]
    after = _current(room)
    assert (after.id, after.version, after.game, after.status) == (before.id, version, game, "active")


def test_therapist_can_reset_end_and_pause(ttt):
    room, therapist, student = ttt
    assert _move(therapist, _current(room).version, 4)["ok"]
    therapist.emit("reset", {"first_player": "student"}, namespace="/games")
    game = _current(room)
    assert game.state["board"] == [None] * 9 and game.state["turn"] == "student"
    therapist.emit("pause", {"paused": True}, namespace="/games")
    assert _move(student, _current(room).version, 0, "paused-move")["code"] == "paused"
    therapist.emit("pause", {"paused": False}, namespace="/games")
    assert _move(student, _current(room).version, 0, "resumed-move")["ok"]
    therapist.emit("end", {}, namespace="/games")
    assert _current(room) is None
    assert received(student, "game")[-1]["status"] == "ended"


def test_student_cannot_move_while_locked(ttt):
    room, therapist, student = ttt
    therapist.emit("reset", {"first_player": "student"}, namespace="/games")
    therapist.emit("lock", {"locked": True}, namespace="/games")
    student.events("/games")
    version = _current(room).version
    answer = _move(student, version, 0, "locked-move")
    assert answer["code"] == "locked" and _errors(student) == ["locked"]
    assert _current(room).state["board"] == [None] * 9 and _current(room).version == version
    therapist.emit("lock", {"locked": False}, namespace="/games")
    assert _move(student, _current(room).version, 0, "unlocked-move")["ok"]


# --- moves that must change nothing -------------------------------------------------------------


def test_student_cannot_move_out_of_turn(ttt):
    room, _therapist, student = ttt
    before = _current(room)
    version, state = before.version, before.state
    assert _move(student, version, 0)["code"] == "not_your_turn"
    after = _current(room)
    assert after.version == version and after.state == state


def test_player_cannot_make_a_stale_move(ttt):
    room, therapist, student = ttt
    version = _current(room).version
    assert _move(therapist, version, 4, "first-move")["ok"]
    student.events("/games")
    answer = _move(student, version, 0, "stale-move")  # made on the board before the therapist's move
    assert answer["code"] == "stale"
    got = events_by_name(student)
    assert [e["code"] for e in got["error"]] == ["stale"]
    assert got["game"][-1]["version"] == version + 1  # the saved board comes with the refusal
    assert _current(room).state["board"][0] is None and _current(room).version == version + 1


def test_player_cannot_repeat_a_move(ttt):
    room, therapist, _student = ttt
    version = _current(room).version
    assert _move(therapist, version, 4, "same-move-id")["ok"]
    _current(room)  # the student would move here in a real game; the therapist resends the same id
    game = _current(room)
    game.state = {**game.state, "turn": "therapist"}
    db.session.commit()
    state_before = _current(room).state
    answer = _move(therapist, version + 1, 5, "same-move-id")
    assert answer["code"] == "duplicate"
    assert _current(room).state == state_before and _current(room).version == version + 1


@pytest.mark.parametrize("payload", [
    None,
    "cell 4",
    {"version": 1, "move": {"cell": 4}},  # no move id
    {"version": 1, "move_id": "short", "move": {"cell": 4}},
    {"version": "1", "move_id": "move-0001", "move": {"cell": 4}},
    {"version": 1, "move_id": "move-0001", "move": {"cell": 9}},
    {"version": 1, "move_id": "move-0001", "move": {"cell": "4"}},
    {"version": 1, "move_id": "move-0001", "move": {"cell": True}},
    {"version": 1, "move_id": "move-0001", "move": {"cell": 4, "also": 1}},
    {"version": 1, "move_id": "move-0001", "move": [4]},
    {"version": 1, "move_id": "move-0001", "move": {"cell": 4}, "extra": True},
])
def test_player_cannot_send_a_malformed_move(ttt, payload):
    room, therapist, _student = ttt
    before = _current(room)
    version, state = before.version, before.state
    if isinstance(payload, dict) and payload.get("version") == 1:
        payload = {**payload, "version": version}
    answer = therapist.emit("move", payload, namespace="/games", callback=True)
    assert answer["ok"] is False and answer["code"] in ("invalid", "malformed")
    after = _current(room)
    assert after.version == version and after.state == state


def test_player_cannot_take_a_taken_square(ttt):
    room, therapist, student = ttt
    assert _move(therapist, _current(room).version, 4, "t-move-1")["ok"]
    assert _move(student, _current(room).version, 4, "s-move-1")["code"] == "cell_taken"


def test_therapist_and_student_can_play_to_a_win_and_both_see_it(ttt):
    room, therapist, student = ttt
    moves = [(therapist, 0), (student, 3), (therapist, 1), (student, 4), (therapist, 2)]
    for n, (sock, cell) in enumerate(moves):
        assert _move(sock, _current(room).version, cell, f"win-move-{n}")["ok"]
    for sock in (therapist, student):
        last = received(sock, "game")[-1]
        assert last["result"] == {"winner": "therapist", "draw": False}
        assert {"type": "win", "winner": "therapist", "line": [0, 1, 2]} in last["events"]


def test_student_reconnecting_gets_the_game_exactly_as_saved(ttt, games_socket):
    room, therapist, student = ttt
    assert _move(therapist, _current(room).version, 4, "t-move-1")["ok"]
    assert _move(student, _current(room).version, 0, "s-move-1")["ok"]
    last = received(student, "game")[-1]
    student.disconnect("/games")
    again = games_socket(room.student_client, room)
    [restored] = received(again, "game")
    assert restored["state"] == last["state"] and restored["version"] == last["version"]
    assert restored["state"]["board"][4] == "therapist" and restored["state"]["board"][0] == "student"


# --- mood check-ins -----------------------------------------------------------------------------


def _checkin(room, therapist, student):
    therapist.emit("start", {"game": "mood_checkin", "first_player": "student"}, namespace="/games")
    game = _current(room)
    move = {"version": game.version if game else 1, "move_id": "mood-start", "move": {"phase": "start", "mood": 4}}
    return student.emit("move", move, namespace="/games", callback=True)


def test_student_mood_is_stored_with_mood_consent(game_room, therapist_client, games_socket):
    room = game_room()
    therapist, student = games_socket(therapist_client, room), games_socket(room.student_client, room)
    answer = _checkin(room, therapist, student)
    assert answer["ok"] and answer["mood_saved"] is True
    [row] = db.session.scalars(select(MoodCheckin)).all()
    assert (row.student_id, row.room_id, row.moment, row.face) == (room.student_id, room.id, "start", 4)


def test_student_mood_is_not_stored_without_mood_consent(game_room, therapist_client, games_socket):
    room = game_room(scopes=("video_sessions", "games"))
    therapist, student = games_socket(therapist_client, room), games_socket(room.student_client, room)
    answer = _checkin(room, therapist, student)
    assert answer["ok"] is False
    assert "no_mood_consent" in _errors(therapist)
    assert db.session.scalars(select(MoodCheckin)).all() == []


# --- endings ------------------------------------------------------------------------------------


def test_room_end_ends_the_game_and_closes_games_sockets(ttt, world):
    from app.sessions.services import end_room

    room, therapist, student = ttt
    end_room(room, "therapist_ended", utcnow(), actor=world.therapist)
    ended = db.session.scalar(select(GameSession).where(GameSession.room_id == room.id))
    assert ended.status == "ended" and ended.ended_reason == "room_ended"
    assert not student.is_connected("/games") and not therapist.is_connected("/games")


def test_games_consent_revocation_ends_the_game_and_closes_games_sockets(ttt, world):
    from app.consent.models import ConsentRequest
    from app.consent.services import revoke

    room, therapist, student = ttt
    request = db.session.scalar(select(ConsentRequest).where(ConsentRequest.student_id == room.student_id))
    revoke(request, world.guardian, ["games"], now=utcnow())
    ended = db.session.scalar(select(GameSession).where(GameSession.room_id == room.id))
    assert ended.status == "ended" and ended.ended_reason == "consent_revoked"
    assert not student.is_connected("/games") and not therapist.is_connected("/games")


def test_student_cannot_move_after_games_consent_is_revoked_elsewhere(ttt, world):
    """Every event re-authorizes: a socket that somehow stayed connected is refused."""
    from app.consent.models import ConsentGrant

    room, therapist, _student = ttt
    for grant in db.session.scalars(select(ConsentGrant).where(ConsentGrant.scope == "games")):
        grant.revoked_at = utcnow()
    db.session.commit()
    version = _current(room).version
    answer = _move(therapist, version, 4, "after-revoke")
    assert answer["ok"] is False
    assert _current(room).version == version


def test_games_consent_revocation_closes_games_sockets_with_no_game_running(game_room, therapist_client, games_socket,
                                                                            world):
    from app.consent.models import ConsentRequest
    from app.consent.services import revoke

    room = game_room()
    therapist, student = games_socket(therapist_client, room), games_socket(room.student_client, room)
    request = db.session.scalar(select(ConsentRequest).where(ConsentRequest.student_id == room.student_id))
    revoke(request, world.guardian, ["games"], now=utcnow())
    assert not student.is_connected("/games") and not therapist.is_connected("/games")


def test_mood_consent_revocation_ends_the_check_in_but_not_the_games(game_room, therapist_client, games_socket, world):
    from app.consent.models import ConsentRequest
    from app.consent.services import revoke

    room = game_room()
    therapist, student = games_socket(therapist_client, room), games_socket(room.student_client, room)
    therapist.emit("start", {"game": "mood_checkin", "first_player": "student"}, namespace="/games")
    request = db.session.scalar(select(ConsentRequest).where(ConsentRequest.student_id == room.student_id))
    revoke(request, world.guardian, ["mood_checkins"], now=utcnow())
    assert _current(room) is None
    assert received(student, "game")[-1]["ended_reason"] == "consent_revoked"
    assert student.is_connected("/games") and therapist.is_connected("/games")
    therapist.emit("start", {"game": "mood_checkin", "first_player": "student"}, namespace="/games")
    assert "no_mood_consent" in _errors(therapist)
    therapist.emit("start", {"game": "tic_tac_toe", "first_player": "student"}, namespace="/games")
    assert _current(room).game == "tic_tac_toe"


def test_only_the_rooms_therapist_controls_games_and_the_socket_check_agrees(game_room, world):
    """`_controller` checks `controls_games(role)` after the namespace's full check (can_play_games);
    it must decide as permissions.can_control_games does, for everyone."""
    from app import permissions
    from app.sessions.models import StudentGrant

    room = game_room()
    grant = db.session.scalar(select(StudentGrant).where(StudentGrant.room_id == room.id))
    now = utcnow()
    people = [world.therapist, world.other_therapist, world.district_admin, world.school_admin, world.guardian,
              world.foreign_therapist, grant]
    decisions = {}
    for actor in people:
        role = permissions.room_role(actor, room, now)
        can_play = permissions.can_play_games(actor, room, now)
        decisions[actor] = permissions.can_control_games(actor, room, now)
        assert decisions[actor] == (can_play and permissions.controls_games(role))
    assert [decisions[a] for a in people] == [True, False, False, False, False, False, False]
