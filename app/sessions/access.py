"""Who is acting in a room (a signed-in user or a student grant) and the Socket.IO namespace base
class every room namespace (/call, /waiting, the games helper's /games) derives from.

Sockets re-authorize on every event: `current(now)` reloads the room and the actor and asks the
subclass again, so an ended room, a revoked grant or withdrawn consent stops a socket at once,
whatever the client does with the `session_ended` event.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import request, session
from flask_login import current_user
from flask_socketio import join_room
from sqlalchemy import delete, select

from app.db_types import utcnow
from app.extensions import db, socketio
from app.permissions import room_role
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
        room = db.session.get(LiveRoom, room_id, populate_existing=True)
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
        self.authorize_room(actor, role, room, now)
        sid = request.sid
        kind, actor_id = actor_key(actor)
        self._sids[sid] = {"room_id": room.id, "actor_kind": kind, "actor_id": actor_id, "role": role}
        db.session.add(RoomSocket(room_id=room.id, namespace=self.namespace, sid=sid, actor_kind=kind,
                                  actor_id=actor_id, connected_at=now))
        db.session.commit()
        join_room(self.room_channel(room.id))
        self.room_connected(sid, actor, role, room, now)

    def disconnected(self, reason) -> None:
        sid = request.sid
        info = self._sids.pop(sid, None)
        db.session.execute(delete(RoomSocket).where(RoomSocket.sid == sid))
        db.session.commit()
        if info:
            self.room_disconnected(sid, info)


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
