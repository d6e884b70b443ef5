"""Who is acting in a room (a signed-in user or a student grant) and the Socket.IO namespace base
class every room namespace (/call, /waiting, the games helper's /games) derives from.

Sockets re-authorize on every event: `current(now)` reloads the room and the actor and asks the
subclass again, so an ended room, a revoked grant or withdrawn consent stops a socket at once,
whatever the client does with the `session_ended` event.

A namespace whose events are frequent (the games' moves) may use `standing(now)` instead, when
the class sets `REAUTHORIZE_AFTER`: the decision of the last full check is reused while one SQL
statement (`_fingerprint`) reads back exactly the same inputs of that decision — the socket's
`RoomSocket` row (deleted by every close_* below), the room's status and closing time, the
student's record, the actor (user + the signed-in session, or the grant), the caseload and the
consent scopes the namespace needs, evaluated at this instant. Any difference, or the decision
being older than `REAUTHORIZE_AFTER` seconds or past the room's closing time, and the full check
runs again through app/permissions.py. Nothing is decided from the fingerprint; it only says
"nothing the decision depends on has changed". It reads the database, so a change made by any
process (a consent revoked, a user deactivated, a room ended) refuses the socket's next event.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import request, session
from flask_login import current_user
from flask_socketio import join_room
from sqlalchemy import bindparam, delete, exists, insert, select
from sqlalchemy.orm import joinedload

from app.db_types import utcnow
from app.extensions import db, socketio
from app.permissions import caseload_open_clause, room_role
from app.sessions.models import LiveRoom, RoomSocket, StudentGrant
from app.sockets import GuardedNamespace, SocketRefused

log = logging.getLogger("homeroom.sessions")

#: The Flask-session key holding this browser's grants: {str(room_id): grant_id}.
GRANTS_KEY = "student_grants"

#: Every room namespace registered in this process ("/call", "/waiting", "/games" ...).
ROOM_NAMESPACES: list[str] = []


def grant_in_session(room: LiveRoom) -> StudentGrant | None:
    """The StudentGrant this browser holds for `room` (None if none, revoked or not this room's)."""
    grants = session.get(GRANTS_KEY)
    if not isinstance(grants, dict):
        return None
    grant_id = grants.get(str(room.id))
    if not isinstance(grant_id, int):
        return None
    grant = db.session.get(StudentGrant, grant_id, populate_existing=True)
    if grant is None or grant.room_id != room.id or grant.district_id != room.district_id:
        return None
    return grant


def remember_grant(grant: StudentGrant) -> None:
    grants = dict(session.get(GRANTS_KEY) or {})
    grants[str(grant.room_id)] = grant.id
    # A browser keeps at most a few rooms' grants (one a day at most, in practice).
    session[GRANTS_KEY] = dict(list(grants.items())[-5:])


def current_room_actor(room: LiveRoom | None, now: datetime | None = None) -> tuple[Any, str | None]:
    """The actor behind this request or socket for `room`, and its room_role: the signed-in user
    when they have a role in the room (staff first), else the grant this browser holds, else the
    signed-in user without a role, else nobody."""
    now = now or utcnow()
    if room is None:
        return None, None
    user = current_user._get_current_object() if getattr(current_user, "is_authenticated", False) else None
    if user is not None:
        role = room_role(user, room, now)
        if role is not None:
            return user, role
    grant = grant_in_session(room)
    if grant is not None:  # a revoked grant has no role, but its page can still say why
        return grant, room_role(grant, room, now)
    if user is not None:
        return user, None
    return None, None


def actor_key(actor) -> tuple[str, int]:
    return ("grant" if isinstance(actor, StudentGrant) else "user", actor.id)


@dataclass(frozen=True, slots=True)
class RoomRef:
    """What an event handler needs of its room once the socket is authorized, without loading it."""

    id: int
    district_id: int
    student_id: int
    therapist_id: int
    appointment_id: int

    @classmethod
    def of(cls, room: LiveRoom) -> RoomRef:
        return cls(room.id, room.district_id, room.student_id, room.therapist_id, room.appointment_id)


@dataclass(slots=True)
class _Standing:
    """A socket's last full authorization, for `RoomNamespace.standing` (small: one per socket)."""

    room: RoomRef
    session_id: int | None  # the signed-in session behind a user's socket
    fingerprint: int | None = None  # hash of the fingerprint read before that check; None: check again
    reuse_until: float = 0.0  # time.monotonic() deadline


class RoomNamespace(GuardedNamespace):
    """A namespace whose sockets each belong to one room: `auth={"room": <id>}` on connect.

    Subclasses implement `authorize_room(actor, role, room, now)` (raise SocketRefused to refuse)
    and may override `room_connected` / `room_disconnected`.
    """

    def __init__(self, namespace: str):
        super().__init__(namespace)
        self._sids: dict[str, dict] = {}
        if namespace not in ROOM_NAMESPACES:
            ROOM_NAMESPACES.append(namespace)

    # -- to implement ------------------------------------------------------------------------

    def authorize_room(self, actor, role: str | None, room: LiveRoom, now: datetime) -> None:
        raise SocketRefused("forbidden", "Not allowed.")

    def room_connected(self, sid: str, actor, role: str | None, room: LiveRoom, now: datetime) -> None:
        """Called once a socket is accepted and has joined the room's channel."""

    def room_disconnected(self, sid: str, info: dict) -> None:
        """Called when a socket of a room goes away."""

    # -- helpers -----------------------------------------------------------------------------

    def room_channel(self, room_id: int) -> str:
        return f"{self.namespace}:{room_id}"

    def sid_info(self, sid: str) -> dict:
        return self._sids.get(sid, {})

    def _load_room(self, room_id) -> LiveRoom:
        # Ids are database integers: a bigger number cannot be a room (and SQLite cannot even bind it).
        if not isinstance(room_id, int) or isinstance(room_id, bool) or not 0 < room_id < 2**31:
            raise SocketRefused("not_found", "We could not find this session.")
        # With its student: every check of a room reads the student's record (is it active?).
        room = db.session.get(LiveRoom, room_id, populate_existing=True, options=[joinedload(LiveRoom.student)])
        if room is None:
            raise SocketRefused("not_found", "We could not find this session.")
        return room

    def current(self, now: datetime | None = None) -> tuple[LiveRoom, Any, str | None]:
        """Re-authorize this socket for the event being handled: reload the room and the actor."""
        now = now or utcnow()
        info = self._sids.get(request.sid)
        if not info:
            raise SocketRefused("not_connected", "Please reload the page.")
        room = self._load_room(info["room_id"])
        actor, role = current_room_actor(room, now)
        if actor is None or actor_key(actor) != (info["actor_kind"], info["actor_id"]):
            raise SocketRefused("forbidden", "You are no longer part of this session.")
        self.authorize_room(actor, role, room, now)
        info["role"] = role
        return room, actor, role

    #: Seconds a full authorization is reused by `standing()` while its inputs are unchanged;
    #: 0 (the default) makes `standing()` a full `current()` on every event.
    REAUTHORIZE_AFTER: float = 0
    #: Consent scopes `authorize_room` reads (their state is part of the fingerprint).
    CONSENT_SCOPES: tuple[str, ...] = ("video_sessions",)

    def standing(self, now: datetime | None = None) -> tuple[RoomRef, str | None]:
        """This socket's room and role for the event being handled, authorized as by `current()`:
        the last full decision is reused only while one statement shows none of its inputs changed
        (see the module docstring)."""
        now = now or utcnow()
        info = self._sids.get(request.sid)
        if not info:
            raise SocketRefused("not_connected", "Please reload the page.")
        cached: _Standing | None = info.get("standing")
        if cached is None or (info["actor_kind"] == "user" and cached.session_id is None):
            room, _actor, role = self.current(now)
            return RoomRef.of(room), role
        fingerprint = self._fingerprint(request.sid, info, now)
        if fingerprint is None:  # the server closed this socket (room ended, consent withdrawn ...)
            cached.fingerprint = None
            raise SocketRefused("forbidden", "You are no longer part of this session.")
        if cached.fingerprint == hash(tuple(fingerprint)) and time.monotonic() < cached.reuse_until:
            return cached.room, info["role"]
        cached.fingerprint = None
        # The fingerprint was read before the full check: a change landing in between makes the
        # next event's fingerprint differ, so it can never be cached as "unchanged".
        room, _actor, role = self.current(now)
        self._remember(cached, room, tuple(fingerprint), now)
        return cached.room, role

    def _remember(self, cached: _Standing, room: LiveRoom, fingerprint: tuple, now: datetime) -> None:
        """Keep the decision just made with its fingerprint. Only the fingerprint's hash is kept
        (a socket's memory matters: 1,000 idle sockets per process, docs/BENCHMARKS.md 5); two
        different fingerprints share a 64-bit hash with a chance of about 1 in 10^19. The
        decision is reused for REAUTHORIZE_AFTER seconds at most, and never past the room's
        closing time."""
        seconds = min(self.REAUTHORIZE_AFTER, (room.closes_at - now).total_seconds())
        cached.room, cached.fingerprint = RoomRef.of(room), hash(fingerprint)
        cached.reuse_until = time.monotonic() + seconds

    def _fingerprint(self, sid: str, info: dict, now: datetime, *, connecting: bool = False):
        """One statement: every input of this socket's authorization (a Row), or None when its
        RoomSocket row is gone (connecting=True: before the row is written)."""
        cached: _Standing = info["standing"]
        room = cached.room
        user = info["actor_kind"] == "user"
        params = {"sid": sid, "room_id": room.id, "student_id": room.student_id, "actor_id": info["actor_id"],
                  "now": now}
        if user:
            params.update(session_id=cached.session_id, today=now.date())
        # On the session's connection (its transaction), without the ORM's execution layer: this
        # is a Core statement, and it runs for every move.
        row = db.session.connection().execute(self._fingerprint_statement(user), params).one_or_none()
        if row is None or not (row.socket or connecting):
            return None
        return row

    @staticmethod
    def _agrees(fingerprint, room: LiveRoom, actor, role) -> bool:
        """Whether a fingerprint read while connecting shows the values the connect check used
        for the room and the actor (read just before it): only then may it stand for that check."""
        same = (fingerprint.status == room.status and fingerprint.closes_at == room.closes_at
                and fingerprint.student_active == room.student.active)
        if isinstance(actor, StudentGrant):
            return same and (fingerprint.grant_revoked, fingerprint.grant_admitted, fingerprint.grant_room) == (
                actor.revoked_at, actor.admitted_at, actor.room_id)
        return same and (fingerprint.user_active, fingerprint.user_role, fingerprint.user_district) == (
            actor.active, actor.role, actor.district_id) and fingerprint.session_revoked is None and (
            role != "therapist" or bool(fingerprint.caseload))

    _statements: dict = {}

    @classmethod
    def _fingerprint_statement(cls, user: bool):
        """The fingerprint's SELECT for a user or a grant, built once per class (bound parameters:
        sid, room_id, student_id, actor_id, now, and for users session_id and today)."""
        key = (cls, user)
        if key not in RoomNamespace._statements:
            from app.auth.models import User, UserSession
            from app.consent.services import consent_active_clause
            from app.districts.models import Student

            student_id, actor_id, now = bindparam("student_id"), bindparam("actor_id"), bindparam("now")
            columns = [
                exists().where(RoomSocket.sid == bindparam("sid")).label("socket"),
                LiveRoom.status, LiveRoom.closes_at,
                Student.active.label("student_active"),
                *(consent_active_clause(student_id, scope, now).label(f"consent_{scope}") for scope in cls.CONSENT_SCOPES),
            ]
            query = select().select_from(LiveRoom).join(Student, Student.id == LiveRoom.student_id)
            if user:
                columns += [
                    User.active.label("user_active"), User.role.label("user_role"),
                    User.district_id.label("user_district"),
                    select(UserSession.revoked_at).where(UserSession.id == bindparam("session_id"),
                                                         UserSession.user_id == User.id)
                    .scalar_subquery().label("session_revoked"),
                    caseload_open_clause(actor_id, student_id, bindparam("today")).label("caseload"),
                ]
                query = query.join(User, User.id == actor_id)
            else:
                columns += [StudentGrant.revoked_at.label("grant_revoked"),
                            StudentGrant.admitted_at.label("grant_admitted"), StudentGrant.room_id.label("grant_room")]
                query = query.join(StudentGrant, StudentGrant.id == actor_id)
            RoomNamespace._statements[key] = query.add_columns(*columns).where(LiveRoom.id == bindparam("room_id"))
        return RoomNamespace._statements[key]

    # -- machinery ---------------------------------------------------------------------------

    def resolve_actor(self) -> Any:
        return None  # the actor depends on the room; see authorize_connect

    def authorize_connect(self, actor, auth) -> None:
        now = utcnow()
        room = self._load_room(auth.get("room"))
        actor, role = current_room_actor(room, now)
        if actor is None or getattr(actor, "district_id", None) != room.district_id:
            # Anonymous, or another district's person: the room does not exist for them.
            raise SocketRefused("not_found", "We could not find this session.")
        sid = request.sid
        kind, actor_id = actor_key(actor)
        info = {"room_id": room.id, "actor_kind": kind, "actor_id": actor_id, "role": role}
        if self.REAUTHORIZE_AFTER:
            cached = info["standing"] = _Standing(
                RoomRef.of(room), getattr(getattr(actor, "current_session", None), "id", None))
            # Read before authorize_room (consent), and checked against what was read for the room
            # and the actor above: then the first event can reuse this check (see `standing`).
            fingerprint = None
            if kind == "grant" or cached.session_id is not None:
                fingerprint = self._fingerprint(sid, info, now, connecting=True)
            self.authorize_room(actor, role, room, now)
            if fingerprint is not None and self._agrees(fingerprint, room, actor, role):
                self._remember(cached, room, (True, *tuple(fingerprint)[1:]), now)
        else:
            self.authorize_room(actor, role, room, now)
        self._sids[sid] = info
        # One INSERT without the ORM's unit of work, committed without expiring what this connect
        # has just read (so room_connected does not load the room again; the check above was made
        # on exactly those values): the flush and that reload were a fifth of a connect's CPU in a
        # reconnect storm (docs/BENCHMARKS.md section 5).
        session = db.session()
        session.execute(_insert_socket, {"room_id": room.id, "namespace": self.namespace, "sid": sid,
                                         "actor_kind": kind, "actor_id": actor_id, "connected_at": now})
        expire, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        finally:
            session.expire_on_commit = expire
        join_room(self.room_channel(room.id))
        self.room_connected(sid, actor, role, room, now)

    def disconnected(self, reason) -> None:
        sid = request.sid
        info = self._sids.pop(sid, None)
        db.session.execute(delete(RoomSocket).where(RoomSocket.sid == sid))
        db.session.commit()
        if info:
            self.room_disconnected(sid, info)


_insert_socket = insert(RoomSocket.__table__)


def close_actor_sockets(room_id: int, actor_kind: str, actor_ids: list[int], reason: str) -> None:
    """Disconnect, in every namespace and process, the sockets of these actors in one room."""
    rows = db.session.execute(select(RoomSocket.sid, RoomSocket.namespace).where(
        RoomSocket.room_id == room_id, RoomSocket.actor_kind == actor_kind, RoomSocket.actor_id.in_(actor_ids))).all()
    for sid, namespace in rows:
        try:
            socketio.emit("session_ended", {"reason": reason}, to=sid, namespace=namespace)
            socketio.server.disconnect(sid, namespace=namespace)
        except Exception:  # noqa: BLE001 - a socket that is already gone must not stop the others
            log.exception("could not disconnect a socket of room %s", room_id)
    db.session.execute(delete(RoomSocket).where(
        RoomSocket.room_id == room_id, RoomSocket.actor_kind == actor_kind, RoomSocket.actor_id.in_(actor_ids)))
    db.session.commit()


def close_room_sockets(room_id: int, reason: str) -> None:
    """Tell every socket of the room, in every room namespace and every process, that the session
    ended and why, then disconnect each one. Both go through the Socket.IO manager, so with a
    Redis message queue they reach sockets held by other processes too."""
    payload = {"reason": reason}
    for namespace in ROOM_NAMESPACES:
        socketio.emit("session_ended", payload, to=f"{namespace}:{room_id}", namespace=namespace)
    rows = db.session.execute(
        select(RoomSocket.sid, RoomSocket.namespace).where(RoomSocket.room_id == room_id)
    ).all()
    server = socketio.server
    for sid, namespace in rows:
        try:
            server.disconnect(sid, namespace=namespace)
        except Exception:  # noqa: BLE001 - a socket that is already gone must not stop the others
            log.exception("could not disconnect a socket of room %s", room_id)
    for namespace in ROOM_NAMESPACES:
        try:
            socketio.close_room(f"{namespace}:{room_id}", namespace=namespace)
        except Exception:  # noqa: BLE001
            log.exception("could not close the channel of room %s", room_id)
    db.session.execute(delete(RoomSocket).where(RoomSocket.room_id == room_id))
    db.session.commit()
