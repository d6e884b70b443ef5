"""Games beside a live session: start, reset, end, pause, lock, moves and mood check-ins.

Callers (the `/games` namespace) authorize first through app/permissions.py; these functions
take explicit arguments (`actor`, the room, `now`), never read the request, and make one
transaction each. The rules in `app.games.rules` decide what a move does; this module checks
what belongs to the session around them (status, lock, version, duplicate move ids) and saves
the state after every accepted move, so a reload or reconnect restores the game exactly.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.exc import StaleDataError

from app.audit.services import record
from app.consent.services import consent_is_active
from app.extensions import db
from app.games.models import RECENT_MOVE_IDS, GameSession, MoodCheckin
from app.games.registry import GAMES, get_game
from app.games.rules import ROLES, STUDENT, IllegalMove


class GameError(Exception):
    """A refused action: `code` for programs (sent in the `error` event), `message` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class SavedGame:
    """A game as saved, read without the ORM: the move path reads one row and writes it back with
    one compare-and-set UPDATE (see `apply_move`). `game_payload` takes this or a GameSession."""

    id: int
    game: str
    state: dict
    version: int
    status: str
    first_player: str
    student_locked: bool
    ended_reason: str | None
    recent_move_ids: list


_GAMES = GameSession.__table__
# Built once (with bound parameters) so a move does not pay for building and keying statements.
_SAVED_GAME = (select(*(_GAMES.c[name] for name in SavedGame.__slots__))
               .where(_GAMES.c.room_id == bindparam("room_id"), _GAMES.c.status != "ended")
               .order_by(_GAMES.c.id.desc()).limit(1))
_SAVE_MOVE = (update(_GAMES)
              .where(_GAMES.c.id == bindparam("game_id"), _GAMES.c.version == bindparam("made_on"),
                     _GAMES.c.status == "active")
              .values(state=bindparam("new_state", type_=_GAMES.c.state.type),
                      version=bindparam("new_version", type_=_GAMES.c.version.type),
                      recent_move_ids=bindparam("new_move_ids", type_=_GAMES.c.recent_move_ids.type)))


@dataclass
class MoveOutcome:
    game: SavedGame
    events: list[dict] = field(default_factory=list)
    mood_saved: bool | None = None  # for mood check-ins: whether the face was stored


# --- reading ----------------------------------------------------------------------------------


def current_game(room_id: int) -> GameSession | None:
    """The room's game that has not ended, if any."""
    return db.session.scalar(
        select(GameSession)
        .where(GameSession.room_id == room_id, GameSession.status != "ended")
        .order_by(GameSession.id.desc())
        .limit(1)
    )


def saved_game(room_id: int) -> SavedGame | None:
    """The room's game that has not ended, as saved (one indexed read, no ORM identity map)."""
    # Core statements on the session's connection (its transaction), without the ORM's layer.
    row = db.session.connection().execute(_SAVED_GAME, {"room_id": room_id}).one_or_none()
    return SavedGame(*row) if row is not None else None


def game_payload(game: GameSession | SavedGame | None, role: str, events: list[dict] | None = None, *,
                 delta: bool = False) -> dict:
    """What a player's browser receives: the game as `role` may see it, and what just happened.

    delta=True (games whose rules set `DELTA_EVENTS`, the drawing board): no "state"; the
    browser applies `events` to the board of version - 1 it holds, and asks for a `sync` when it
    does not hold that version. A connect or a sync always sends the whole saved board."""
    if game is None:
        return {"status": "none", "events": events or []}
    rules = get_game(game.game)
    state = game.state
    payload = {
        "id": game.id,
        "game": game.game,
        "title": rules.title,
        "status": game.status,
        "version": game.version,
        "first_player": game.first_player,
        "locked": game.student_locked,
        "ended_reason": game.ended_reason,
        "result": rules.result(state),
        "over": rules.is_over(state),
        "events": events or [],
        "ask": _mood_question(game) if game.game == "mood_checkin" else None,
    }
    if delta:
        payload["delta"] = True
    else:
        payload["state"] = rules.view(state, role)
    return payload


def _mood_question(game: GameSession | SavedGame) -> str | None:
    """Which face the check-in asks for now: "start"; then nothing until the therapist opens the
    check-in again near the end of the session, when it asks for "end"; None once both are in."""
    state = game.state
    if state.get("start") is None:
        return "start"
    if state.get("end") is None and not game.recent_move_ids:
        return "end"  # reopened with the start face kept: no face picked in this check-in yet
    return None


# --- therapist controls -----------------------------------------------------------------------


def _check_first_player(first_player: Any) -> str:
    if first_player not in ROLES:
        raise GameError("invalid", "Choose who goes first: you or the student.")
    return first_player


def _end(game: GameSession, reason: str, now: datetime) -> None:
    game.status = "ended"
    game.ended_at = now
    game.ended_reason = reason
    game.version = game.version + 1
    if game.game == "mood_checkin":
        # Faces are health information: MoodCheckin rows (kept only with consent) are the record;
        # an ended check-in's state forgets them.
        game.state = {**game.state, "start": None, "end": None}


def start_game(actor, room, game_name: str, first_player: str, now: datetime, *, seed: int | None = None,
               mood_consent: bool | None = None) -> GameSession:
    """Start `game_name` in `room` (ending the game that was running). The mood check-in needs
    `mood_checkins` consent: without it nothing could be saved, so it is not offered."""
    if not isinstance(game_name, str) or game_name not in GAMES:
        raise GameError("unknown_game", "That activity is not available.")
    first = _check_first_player(first_player)
    if game_name == "mood_checkin":
        allowed = consent_is_active(room.student_id, "mood_checkins", now) if mood_consent is None else mood_consent
        if not allowed:
            raise GameError("no_mood_consent", "The mood check-in needs a guardian's consent for mood check-ins.")
    seed = secrets.randbelow(2**31) if seed is None else seed
    state = get_game(game_name).initial_state(first, seed)
    if game_name == "mood_checkin":
        state = _resume_mood(room.id, state)
    previous = current_game(room.id)
    if previous is not None:
        _end(previous, "replaced", now)
    game = GameSession(
        district_id=room.district_id, room_id=room.id, student_id=room.student_id, game=game_name,
        state=state, version=1, seed=seed, first_player=first,
        status="active", student_locked=previous.student_locked if previous is not None else False,
        recent_move_ids=[], started_by_id=actor.id, started_at=now,
    )
    db.session.add(game)
    db.session.flush()
    record("games.started", actor=actor, target=game, student_id=room.student_id, now=now, game=game_name,
           room_id=room.id)
    _save(game)  # stale if another start or move changed the running game meanwhile
    return game


def _resume_mood(room_id: int, state: dict) -> dict:
    """The check-in opened again later in the same session (say, after a game) keeps the start
    face already picked, so the student is asked for the end one. A finished one starts afresh."""
    saved = dict(db.session.execute(
        select(MoodCheckin.moment, MoodCheckin.face).where(MoodCheckin.room_id == room_id)).all())
    if saved.get("start") is not None and saved.get("end") is None:
        return {**state, "start": saved["start"]}
    return state


def _require_current(room) -> GameSession:
    game = current_game(room.id)
    if game is None:
        raise GameError("no_game", "No activity is running. Choose one and press Start.")
    return game


def _save(game: GameSession | None) -> None:
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise GameError("stale", "The game changed just now. Here is the latest board — try again.") from None


def reset_game(actor, room, now: datetime, *, first_player: str | None = None, seed: int | None = None) -> GameSession:
    """Start the current activity again from the beginning (optionally with a new first player)."""
    game = _require_current(room)
    first = _check_first_player(first_player) if first_player is not None else game.first_player
    game.seed = secrets.randbelow(2**31) if seed is None else seed
    game.first_player = first
    game.state = get_game(game.game).initial_state(first, game.seed)
    game.status = "active"
    game.version = game.version + 1
    record("games.reset", actor=actor, target=game, student_id=room.student_id, now=now, game=game.game)
    _save(game)
    return game


def end_game(actor, room, now: datetime) -> GameSession:
    """The therapist ends the current activity."""
    game = _require_current(room)
    _end(game, "therapist_ended", now)
    record("games.ended", actor=actor, target=game, student_id=room.student_id, now=now, game=game.game,
           reason="therapist_ended")
    _save(game)
    return game


def set_paused(actor, room, paused: bool, now: datetime) -> GameSession:
    """Pause (no moves from anyone) or resume the current activity."""
    game = _require_current(room)
    game.status = "paused" if paused else "active"
    game.version = game.version + 1
    record("games.paused" if paused else "games.resumed", actor=actor, target=game, student_id=room.student_id,
           now=now)
    _save(game)
    return game


def set_student_locked(actor, room, locked: bool, now: datetime) -> GameSession:
    """Lock (or unlock) the student's input; the therapist may still act."""
    game = _require_current(room)
    game.student_locked = bool(locked)
    game.version = game.version + 1
    record("games.student_locked" if locked else "games.student_unlocked", actor=actor, target=game,
           student_id=room.student_id, now=now)
    _save(game)
    return game


# --- moves ------------------------------------------------------------------------------------


def apply_move(room, role: str, version: Any, move_id: Any, move: Any, now: datetime) -> MoveOutcome:
    """Apply `role`'s move to the room's current game and save it, or raise GameError and change nothing.

    Checked in order: a game is running and not paused, the student is not locked out, the move
    id is new (a resent move is a "duplicate"), the move was made on the current version ("stale"),
    then the rules (turn, legality: their IllegalMove code is passed on).

    `room` needs id, district_id, student_id and appointment_id (a LiveRoom or a RoomRef). The
    game is read once and written with one UPDATE ... WHERE id = ? AND version = ? AND status =
    'active': a move, pause, lock, reset or end saved meanwhile by any process bumped the version,
    so this UPDATE matches no row and the move is refused as stale, exactly as the ORM's version
    check did.
    """
    if role not in ROLES:
        raise GameError("forbidden", "Only the therapist and the student can play.")
    game = saved_game(room.id)
    if game is None:
        raise GameError("no_game", "No activity is running. Choose one and press Start.")
    if game.status == "paused":
        raise GameError("paused", "The game is paused for a moment.")
    if role == STUDENT and game.student_locked:
        raise GameError("locked", "Please wait — the board is locked for now.")
    if not isinstance(move_id, str) or not move_id:
        raise GameError("malformed", "That move didn't make sense. Please try again.")
    if move_id in (game.recent_move_ids or []):
        raise GameError("duplicate", "That move was already made.")
    if isinstance(version, bool) or not isinstance(version, int) or version != game.version:
        raise GameError("stale", "The game changed just now. Here is the latest board — try again.")
    if game.game == "mood_checkin" and not consent_is_active(room.student_id, "mood_checkins", now):
        # Consent ended (or was withdrawn) since the check-in started: the face is neither saved nor kept.
        raise GameError("no_mood_consent", "The mood check-in needs a guardian's consent for mood check-ins.")
    rules = get_game(game.game)
    try:
        new_state, events = rules.apply(game.state, move, role)
    except IllegalMove as refused:
        raise GameError(refused.code, refused.message) from None
    recent = ([*(game.recent_move_ids or []), move_id])[-RECENT_MOVE_IDS:]
    saved = db.session.connection().execute(_SAVE_MOVE, {"game_id": game.id, "made_on": version, "new_state": new_state,
                                            "new_version": version + 1, "new_move_ids": recent})
    if saved.rowcount != 1:
        db.session.rollback()
        raise GameError("stale", "The game changed just now. Here is the latest board — try again.")
    game.state, game.version, game.recent_move_ids = new_state, version + 1, recent
    outcome = MoveOutcome(game, events)
    if game.game == "mood_checkin":
        outcome.mood_saved = _record_mood(room, game, events, now)
    db.session.commit()
    return outcome


def _record_mood(room, game: SavedGame, events: list[dict], now: datetime) -> bool:
    """Store the face just picked, in the move's transaction, only while mood consent is active."""
    picked = next((event for event in events if event.get("type") == "mood"), None)
    if picked is None or not consent_is_active(room.student_id, "mood_checkins", now):
        return False
    row = db.session.scalar(select(MoodCheckin).where(MoodCheckin.room_id == room.id,
                                                      MoodCheckin.moment == picked["phase"]))
    if row is None:
        row = MoodCheckin(district_id=room.district_id, student_id=room.student_id, room_id=room.id,
                          appointment_id=room.appointment_id, moment=picked["phase"])
        db.session.add(row)
    row.face = picked["mood"]
    row.recorded_at = now
    db.session.flush()
    # Who and when only: the face itself is health information and stays out of the audit log.
    record("games.mood_checkin_recorded", district_id=room.district_id, target=row, student_id=room.student_id,
           now=now, moment=picked["phase"])
    return True


# --- endings other domains cause --------------------------------------------------------------


def end_games_in_room(room_id: int, reason: str, now: datetime) -> GameSession | None:
    """End the room's current game (the room ended, or consent was withdrawn). Returns it, or None.

    When the room itself ended, its drawings are forgotten too: a child's drawing is part of the
    conversation, not a record (mood check-ins, given with consent, are the record)."""
    game = current_game(room_id)
    # Normally one game is running; two Starts at the very same moment could leave an older one.
    running = list(db.session.scalars(select(GameSession).where(GameSession.room_id == room_id,
                                                                GameSession.status != "ended")))
    for each in running:
        _end(each, reason, now)
        record("games.ended", district_id=each.district_id, target=each, student_id=each.student_id, now=now,
               game=each.game, reason=reason)
    if reason == "room_ended":
        drawings = select(GameSession).where(GameSession.room_id == room_id, GameSession.game == "drawing_board")
        for drawing in db.session.scalars(drawings):
            if drawing.state.get("strokes"):
                drawing.state = {**drawing.state, "strokes": []}
                drawing.version = drawing.version + 1
    _save(game)
    return game


def rooms_with_games_for_student(student_id: int, *, game: str | None = None) -> list[int]:
    """Ids of rooms where one of the student's games is running (optionally only `game`)."""
    query = select(GameSession.room_id).where(GameSession.student_id == student_id, GameSession.status != "ended")
    if game is not None:
        query = query.where(GameSession.game == game)
    return sorted(set(db.session.scalars(query)))


# --- mood trend -------------------------------------------------------------------------------


@dataclass
class MoodPoint:
    appointment_id: int
    starts_at: datetime
    start: int | None
    end: int | None


def mood_trend(student, limit: int = 50) -> list[MoodPoint]:
    """The student's check-ins per session, oldest first (the last `limit` sessions)."""
    from app.scheduling.models import Appointment

    rows = db.session.execute(
        select(MoodCheckin, Appointment.starts_at)
        .join(Appointment, Appointment.id == MoodCheckin.appointment_id)
        .where(MoodCheckin.student_id == student.id, MoodCheckin.district_id == student.district_id)
        .order_by(Appointment.starts_at, MoodCheckin.id)
    ).all()
    points: dict[int, MoodPoint] = {}
    for checkin, starts_at in rows:
        point = points.setdefault(checkin.appointment_id, MoodPoint(checkin.appointment_id, starts_at, None, None))
        setattr(point, checkin.moment, checkin.face)
    return list(points.values())[-limit:]
