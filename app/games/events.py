"""The `/games` Socket.IO namespace: translate events into `app.games.services` calls, emit the result.

Clients connect with `auth={"room": <live room id>}`. `RoomNamespace` (app/sessions/access.py)
loads the room, resolves the actor (staff user or admitted student grant) and asks
`authorize_room`; every event is then authorized again. Therapist controls (start, reset, end,
pause, lock) run the full check through `self.current(now)` and the rules in app/permissions.py
(`can_play_games`, `can_control_games`). Moves and syncs, the frequent events, use
`self.standing(now)`: the last full decision is reused while one SQL statement shows that none of
its inputs changed (the socket's row, the room, the actor and its session or grant, the caseload,
video and games consent at this instant), and at most REAUTHORIZE_AFTER seconds; otherwise the
full check runs. Refusals become an `error` event with a reason code, and nothing changes.

Server -> client: `game` (the room's game as that player may see it, plus the rule events of
the change that caused it; sent on connect and on `sync`, so a reload restores the board; for
the drawing board a move's `game` is a delta: `delta: true`, the events and no state, see
docs/GAMES.md) and `closed` (games are over in this room: the room ended or consent was withdrawn).
"""

from __future__ import annotations

import logging

from flask_socketio import emit
from sqlalchemy.orm.exc import StaleDataError

from app import permissions
from app.db_types import utcnow
from app.extensions import db, socketio
from app.games import services
from app.games.registry import GAMES
from app.games.rules import ROLES
from app.sessions.access import RoomNamespace
from app.sockets import EventSpec, SocketRefused

STALE_MESSAGE = "The game changed just now. Here is the latest board — try again."

log = logging.getLogger("homeroom.games")

NAMESPACE = "/games"
_ROLE_ENUM = {"enum": list(ROLES)}
_NO_ARGS = {"type": ["object", "null"], "maxProperties": 0}


def _object(properties: dict, required: list[str]) -> dict:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def role_channel(room_id: int, role: str) -> str:
    return f"{NAMESPACE}:{room_id}:{role}"


def room_channel(room_id: int) -> str:
    return f"{NAMESPACE}:{room_id}"


class GamesNamespace(RoomNamespace):
    # Moves reuse the last full authorization while nothing it read has changed (see the docstring).
    REAUTHORIZE_AFTER = 60.0
    CONSENT_SCOPES = ("video_sessions", "games")

    EVENTS = {
        "sync": EventSpec(_NO_ARGS, rate=2, burst=5),
        "move": EventSpec(
            _object(
                {
                    "version": {"type": "integer", "minimum": 0, "maximum": 2**31},
                    "move_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
                    # The rules validate the move itself; here only its outline and size.
                    "move": {"type": "object", "maxProperties": 8},
                },
                ["version", "move_id", "move"],
            ),
            rate=10, burst=20,
        ),
        "start": EventSpec(_object({"game": {"enum": list(GAMES)}, "first_player": _ROLE_ENUM}, ["game", "first_player"]),
                           rate=1, burst=5),
        "reset": EventSpec(_object({"first_player": _ROLE_ENUM}, []), rate=1, burst=5),
        "end": EventSpec(_NO_ARGS, rate=1, burst=5),
        "pause": EventSpec(_object({"paused": {"type": "boolean"}}, ["paused"]), rate=2, burst=5),
        "lock": EventSpec(_object({"locked": {"type": "boolean"}}, ["locked"]), rate=2, burst=5),
    }

    # -- connect ---------------------------------------------------------------------------

    def authorize_room(self, actor, role, room, now) -> None:
        if role is None or not permissions.can_join_call(actor, room, now):
            raise SocketRefused("forbidden", "You are not in this session.")
        if room.status != "live":
            raise SocketRefused("not_live", "Games start once the student has joined.")
        # With the two checks above, this completes permissions.can_play_games, each part with
        # its own reason (can_play_games itself would evaluate can_join_call a second time).
        if not permissions.games_consent_active(room, now):
            raise SocketRefused("no_consent", "Games need a guardian's consent for games.")

    def room_connected(self, sid, actor, role, room, now) -> None:
        # Each role has its own channel too, so each player gets the game as they may see it.
        self.enter_room(sid, role_channel(room.id, role))
        emit("game", services.game_payload(services.saved_game(room.id), role))

    # -- helpers ---------------------------------------------------------------------------

    def _player(self):
        """(room, role, now) for a move or a sync, authorized now (cached decision, see the docstring)."""
        now = utcnow()
        room, role = self.standing(now)
        return room, role, now

    def _controller(self):
        """(room, actor, now) for a therapist control, re-authorized in full now."""
        now = utcnow()
        # current() runs authorize_room (the can_play_games checks) for the role it returns: with
        # controls_games, that is permissions.can_control_games without evaluating it all twice.
        room, actor, role = self.current(now)
        if not permissions.controls_games(role):
            raise SocketRefused("therapist_only", "Only the therapist can do that.")
        return room, actor, now

    def _broadcast(self, room_id: int, game, events: list[dict] | None = None, *, delta: bool = False) -> None:
        payloads = {role: services.game_payload(game, role, events, delta=delta) for role in ROLES}
        first, *others = payloads.values()
        if all(payload == first for payload in others):
            # Both players see the same: one message to the room's channel (one publish with Redis).
            socketio.emit("game", first, to=room_channel(room_id), namespace=self.namespace)
            return
        for role, payload in payloads.items():
            socketio.emit("game", payload, to=role_channel(room_id, role), namespace=self.namespace)

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except services.GameError as refused:
            db.session.rollback()
            raise SocketRefused(refused.code, refused.message) from None
        except StaleDataError:  # a flush before the service's own commit lost a race (another start)
            db.session.rollback()
            raise SocketRefused("stale", STALE_MESSAGE) from None

    # -- events ----------------------------------------------------------------------------

    def on_sync(self, _payload):
        room, role, _now = self._player()
        emit("game", services.game_payload(services.saved_game(room.id), role))

    def on_move(self, payload):
        room, role, now = self._player()
        try:
            try:
                outcome = services.apply_move(room, role, payload["version"], payload["move_id"], payload["move"], now)
            except StaleDataError:  # the mood check-in's flush lost a race: same answer as a stale commit
                raise services.GameError("stale", STALE_MESSAGE) from None
        except services.GameError as refused:
            db.session.rollback()
            if refused.code in ("stale", "duplicate"):
                # The player's board is behind: send the saved one with the refusal.
                emit("game", services.game_payload(services.saved_game(room.id), role))
            raise SocketRefused(refused.code, refused.message) from None
        delta = getattr(GAMES[outcome.game.game], "DELTA_EVENTS", False)
        self._broadcast(room.id, outcome.game, outcome.events, delta=delta)
        return {"ok": True, "version": outcome.game.version, "mood_saved": outcome.mood_saved}

    def on_start(self, payload):
        room, actor, now = self._controller()
        game = self._call(services.start_game, actor, room, payload["game"], payload["first_player"], now)
        self._broadcast(room.id, game, [{"type": "started", "game": game.game}])

    def on_reset(self, payload):
        room, actor, now = self._controller()
        game = self._call(services.reset_game, actor, room, now, first_player=(payload or {}).get("first_player"))
        self._broadcast(room.id, game, [{"type": "reset"}])

    def on_end(self, _payload):
        room, actor, now = self._controller()
        game = self._call(services.end_game, actor, room, now)
        self._broadcast(room.id, game, [{"type": "ended", "reason": game.ended_reason}])

    def on_pause(self, payload):
        room, actor, now = self._controller()
        game = self._call(services.set_paused, actor, room, payload["paused"], now)
        self._broadcast(room.id, game, [{"type": "paused" if payload["paused"] else "resumed"}])

    def on_lock(self, payload):
        room, actor, now = self._controller()
        game = self._call(services.set_student_locked, actor, room, payload["locked"], now)
        self._broadcast(room.id, game, [{"type": "locked" if payload["locked"] else "unlocked"}])


# --- endings from other domains ---------------------------------------------------------------


def close_games(room_id: int, game=None, reason: str = "room_ended") -> None:
    """Tell the room's /games sockets that games are over, then disconnect them. The sockets are
    found through `RoomSocket` rows and disconnected by sid through the Socket.IO manager, so with
    a Redis message queue this reaches sockets held by other processes; any socket left would be
    refused on its next event anyway (every event re-authorizes)."""
    from sqlalchemy import delete, select

    from app.sessions.models import RoomSocket

    if game is not None:
        for role in ROLES:
            socketio.emit("game", services.game_payload(game, role, [{"type": "ended", "reason": reason}]),
                          to=role_channel(room_id, role), namespace=NAMESPACE)
    socketio.emit("closed", {"reason": reason}, to=room_channel(room_id), namespace=NAMESPACE)
    sids = list(db.session.scalars(select(RoomSocket.sid).where(RoomSocket.room_id == room_id,
                                                               RoomSocket.namespace == NAMESPACE)))
    for sid in sids:
        try:
            socketio.server.disconnect(sid, namespace=NAMESPACE)
        except Exception:  # noqa: BLE001 - a socket already gone must not stop the others
            log.exception("could not disconnect a games socket of room %s", room_id)
    db.session.execute(delete(RoomSocket).where(RoomSocket.room_id == room_id, RoomSocket.namespace == NAMESPACE))
    db.session.commit()


def on_room_ended(sender, *, room_id: int, reason: str, at, **_extra) -> None:
    """The live room ended: end its game and close its /games sockets."""
    close_games(room_id, _end_games(room_id, "room_ended", at), "room_ended")


def _end_games(room_id: int, reason: str, at):
    try:
        return services.end_games_in_room(room_id, reason, at)
    except Exception:  # noqa: BLE001 - the change that caused this has committed; log and carry on
        db.session.rollback()
        log.exception("could not end games of room %s", room_id)
        return None


def on_consent_revoked(sender, *, student_id: int, scopes: list[str], at, **_extra) -> None:
    """`games` consent withdrawn: end the student's games and close the /games sockets of every
    room of theirs that has not ended. `mood_checkins` withdrawn: end a running mood check-in
    (nothing more is stored); other games go on."""
    from sqlalchemy import select

    from app.sessions.models import LiveRoom

    if "games" in scopes:
        ended = {room_id: _end_games(room_id, "consent_revoked", at)
                 for room_id in services.rooms_with_games_for_student(student_id)}
        open_rooms = list(db.session.scalars(select(LiveRoom.id).where(LiveRoom.student_id == student_id,
                                                                       LiveRoom.status != "ended")))
        for room_id in sorted(set(open_rooms) | set(ended)):
            close_games(room_id, ended.get(room_id), "consent_revoked")
    elif "mood_checkins" in scopes:
        for room_id in services.rooms_with_games_for_student(student_id, game="mood_checkin"):
            game = _end_games(room_id, "consent_revoked", at)
            if game is not None:
                for role in ROLES:
                    socketio.emit("game", services.game_payload(game, role, [{"type": "ended", "reason": "consent_revoked"}]),
                                  to=role_channel(room_id, role), namespace=NAMESPACE)


def register_subscribers(app) -> None:
    """Called from create_app; connecting the same function again is a no-op."""
    from app.consent.signals import consent_revoked
    from app.sessions.signals import room_ended

    room_ended.connect(on_room_ended)
    consent_revoked.connect(on_consent_revoked)


def register(socketio_) -> None:
    """Called from create_app's register_namespaces."""
    socketio_.on_namespace(GamesNamespace(NAMESPACE))
