"""app.games.services without sockets: controls, moves, saving, mood check-ins and the trend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app.audit.models import AuditEvent
from app.db_types import utcnow
from app.extensions import db
from app.games import services
from app.games.models import RECENT_MOVE_IDS, GameSession, MoodCheckin


@pytest.fixture
def room(game_room):
    return game_room()


def test_therapist_can_start_a_game_which_replaces_the_running_one(room, world):
    now = utcnow()
    first = services.start_game(world.therapist, room, "tic_tac_toe", "student", now, seed=1)
    second = services.start_game(world.therapist, room, "connect_four", "therapist", now, seed=2)
    db.session.expire_all()
    assert services.current_game(room.id).id == second.id
    assert db.session.get(GameSession, first.id).ended_reason == "replaced"
    assert second.state["turn"] == "therapist"


def test_therapist_cannot_start_an_unknown_game(room, world):
    with pytest.raises(services.GameError) as refused:
        services.start_game(world.therapist, room, "chess", "student", utcnow())
    assert refused.value.code == "unknown_game"


def test_move_is_saved_with_a_new_version_and_its_id_remembered(room, world):
    now = utcnow()
    game = services.start_game(world.therapist, room, "tic_tac_toe", "student", now)
    outcome = services.apply_move(room, "student", game.version, "move-aaaa", {"cell": 0}, now)
    assert [e["type"] for e in outcome.events] == ["move", "turn"]
    db.session.expire_all()
    saved = services.current_game(room.id)
    assert saved.version == 2 and saved.state["board"][0] == "student" and saved.recent_move_ids == ["move-aaaa"]


def test_move_ids_remembered_are_bounded(room, world):
    now = utcnow()
    game = services.start_game(world.therapist, room, "feelings_cards", "student", now)
    for n in range(RECENT_MOVE_IDS + 5):
        services.apply_move(room, "student", game.version, f"move-{n:05d}", {"kind": "draw"}, now)
    db.session.expire_all()
    saved = services.current_game(room.id)
    assert len(saved.recent_move_ids) == RECENT_MOVE_IDS and saved.recent_move_ids[-1] == f"move-{RECENT_MOVE_IDS + 4:05d}"


def test_concurrent_move_on_the_same_version_is_refused_as_stale(room, world):
    """Two processes accept a move on version N at once: the second UPDATE finds no row with N."""
    now = utcnow()
    game = services.start_game(world.therapist, room, "tic_tac_toe", "student", now)
    version = game.version
    assert services.current_game(room.id).version == version  # loaded into this session
    with db.engine.begin() as other_process:
        other_process.execute(text("UPDATE game_sessions SET version = version + 1 WHERE id = :id"), {"id": game.id})
    with pytest.raises(services.GameError) as refused:
        services.apply_move(room, "student", version, "move-race", {"cell": 0}, now)
    assert refused.value.code == "stale"
    db.session.expire_all()
    assert services.current_game(room.id).state["board"] == [None] * 9


def test_illegal_move_changes_nothing(room, world):
    now = utcnow()
    game = services.start_game(world.therapist, room, "connect_four", "therapist", now)
    with pytest.raises(services.GameError) as refused:
        services.apply_move(room, "student", game.version, "move-bbbb", {"column": 0}, now)
    assert refused.value.code == "not_your_turn"
    db.session.rollback()
    db.session.expire_all()
    assert services.current_game(room.id).version == game.version


def test_controls_are_audited_without_health_data(room, world):
    now = utcnow()
    services.start_game(world.therapist, room, "mood_checkin", "student", now)
    game = services.current_game(room.id)
    services.apply_move(room, "student", game.version, "mood-0001", {"phase": "start", "mood": 2}, now)
    services.set_student_locked(world.therapist, room, True, now)
    services.end_game(world.therapist, room, now)
    actions = [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action.startswith("games.")))]
    assert actions == ["games.started", "games.mood_checkin_recorded", "games.student_locked", "games.ended"]
    for event in db.session.scalars(select(AuditEvent).where(AuditEvent.action.startswith("games."))):
        assert "mood" not in event.details and 2 not in event.details.values()


def test_mood_is_not_stored_once_mood_consent_is_withdrawn_mid_session(room, world):
    from app.consent.models import ConsentGrant

    now = utcnow()
    game = services.start_game(world.therapist, room, "mood_checkin", "student", now)
    for grant in db.session.scalars(select(ConsentGrant).where(ConsentGrant.scope == "mood_checkins")):
        grant.revoked_at = now - timedelta(seconds=1)
    db.session.commit()
    with pytest.raises(services.GameError) as refused:
        services.apply_move(room, "student", game.version, "mood-0002", {"phase": "start", "mood": 5}, now)
    assert refused.value.code == "no_mood_consent"
    db.session.expire_all()
    assert db.session.scalars(select(MoodCheckin)).all() == []
    assert services.current_game(room.id).state["start"] is None  # the face is not kept in the game either


def test_an_ended_mood_check_in_forgets_its_faces(room, world):
    now = utcnow()
    game = services.start_game(world.therapist, room, "mood_checkin", "student", now)
    services.apply_move(room, "student", game.version, "mood-0009", {"phase": "start", "mood": 2}, now)
    services.start_game(world.therapist, room, "tic_tac_toe", "student", now)  # ends the check-in
    db.session.expire_all()
    ended = db.session.get(type(game), game.id)
    assert ended.status == "ended" and ended.state["start"] is None and ended.state["end"] is None
    assert db.session.scalar(select(MoodCheckin.face)) == 2  # the consented record stays


def test_mood_check_in_reopened_later_keeps_the_start_face(room, world):
    now = utcnow()
    game = services.start_game(world.therapist, room, "mood_checkin", "student", now)
    assert services.game_payload(game, "student")["ask"] == "start"
    services.apply_move(room, "student", game.version, "mood-0003", {"phase": "start", "mood": 3}, now)
    assert services.game_payload(services.current_game(room.id), "student")["ask"] is None  # not the end yet
    services.start_game(world.therapist, room, "tic_tac_toe", "student", now)
    again = services.start_game(world.therapist, room, "mood_checkin", "student", now)
    assert again.state["start"] == 3 and again.state["end"] is None
    assert services.game_payload(again, "student")["ask"] == "end"
    services.apply_move(room, "student", again.version, "mood-0004", {"phase": "end", "mood": 5}, now)
    rows = {row.moment: row.face for row in db.session.scalars(select(MoodCheckin))}
    assert rows == {"start": 3, "end": 5}


def test_mood_trend_lists_sessions_oldest_first(game_room, world):
    now = utcnow()
    earlier, later = game_room(), game_room()
    earlier.appointment.starts_at = now - timedelta(days=7)
    db.session.commit()
    for room, (start, end) in ((later, (4, 5)), (earlier, (2, 3))):
        game = services.start_game(world.therapist, room, "mood_checkin", "student", now)
        services.apply_move(room, "student", game.version, f"m-start-{room.id}", {"phase": "start", "mood": start}, now)
        game = services.current_game(room.id)
        services.apply_move(room, "student", game.version, f"m-end-{room.id}-x", {"phase": "end", "mood": end}, now)
    trend = services.mood_trend(world.own_student)
    assert [(p.appointment_id, p.start, p.end) for p in trend] == [
        (earlier.appointment_id, 2, 3), (later.appointment_id, 4, 5)]


def test_room_end_ends_its_game_and_forgets_its_drawings(room, world):
    from app.sessions.services import end_room

    now = utcnow()
    first = services.start_game(world.therapist, room, "drawing_board", "student", now)
    stroke = {"kind": "stroke", "stroke_id": "s1", "color": "blue", "width": 4, "points": [[0, 0], [0.5, 0.5]]}
    services.apply_move(room, "student", first.version, "draw-0001", stroke, now)
    services.start_game(world.therapist, room, "tic_tac_toe", "student", now)
    second = services.start_game(world.therapist, room, "drawing_board", "student", now)
    services.apply_move(room, "therapist", second.version, "draw-0002", stroke, now)
    end_room(room, "therapist_ended", utcnow(), actor=world.therapist)
    db.session.expire_all()
    assert services.current_game(room.id) is None
    games = db.session.scalars(select(GameSession).where(GameSession.room_id == room.id).order_by(GameSession.id)).all()
    assert games[-1].ended_reason == "room_ended"
    assert [g.state["strokes"] for g in games if g.game == "drawing_board"] == [[], []]


def test_payload_never_carries_face_down_cards_the_deck_or_the_seed(room, world):
    now = utcnow()
    memory = services.start_game(world.therapist, room, "memory_match", "student", now, seed=5)
    payload = services.game_payload(memory, "therapist")
    assert payload["state"]["cards"] == [None] * 16 and "seed" not in payload
    cards = services.start_game(world.therapist, room, "feelings_cards", "student", now, seed=5)
    payload = services.game_payload(cards, "student")
    assert "deck" not in payload["state"] and "seed" not in payload["state"] and "seed" not in payload


def test_room_end_ends_every_game_left_running(room, world):
    """Two Starts at the very same moment could leave two running games; the room's end ends both."""
    now = utcnow()
    first = services.start_game(world.therapist, room, "tic_tac_toe", "student", now)
    twin = GameSession(district_id=room.district_id, room_id=room.id, student_id=room.student_id, game="connect_four",
                       state={}, version=1, seed=1, first_player="student", status="active", recent_move_ids=[],
                       started_by_id=world.therapist.id, started_at=now)
    db.session.add(twin)
    db.session.commit()
    services.end_games_in_room(room.id, "room_ended", now)
    db.session.expire_all()
    assert {db.session.get(GameSession, g.id).status for g in (first, twin)} == {"ended"}
