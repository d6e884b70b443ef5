"""The live-session Socket.IO namespaces.

/waiting  the student's waiting room: an unrevoked grant of an open room (admitted or not) waits
          here until the therapist lets them in; the therapist hears "student is waiting".
/call     the call itself: only the room's therapist and its admitted student, with video consent
          active now. Offers, answers and ICE candidates are relayed to the other participant of
          the same room only; chat is relayed and never stored or logged.

Every event is validated (JSON Schema: types and sizes), rate-limited per socket and
re-authorized (`RoomNamespace.current`) before anything happens.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app, request
from flask_socketio import emit
from sqlalchemy import delete, select

from app import permissions
from app.db_types import utcnow
from app.extensions import db, socketio
from app.sessions import services
from app.sessions.access import RoomNamespace, actor_key
from app.sessions.models import LiveRoom, RoomSocket, StudentGrant
from app.sockets import EventSpec, SocketRefused

NO_PAYLOAD = {"type": ["object", "null"], "maxProperties": 0}

DESCRIPTION = {
    "type": "object",
    "required": ["type", "sdp"],
    "additionalProperties": False,
    "properties": {
        "type": {"enum": ["offer", "answer", "rollback"]},
        "sdp": {"type": "string", "maxLength": 60000},
    },
}
CANDIDATE = {
    "type": "object",
    "required": ["candidate"],
    "additionalProperties": False,
    "properties": {
        "candidate": {"type": "string", "maxLength": 1024},
        "sdpMid": {"type": ["string", "null"], "maxLength": 64},
        "sdpMLineIndex": {"type": ["integer", "null"], "minimum": 0, "maximum": 64},
        "usernameFragment": {"type": ["string", "null"], "maxLength": 256},
    },
}
SIGNAL = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 1,
    "properties": {"description": DESCRIPTION, "candidate": {"anyOf": [CANDIDATE, {"type": "null"}]}},
}

CLOSED = SocketRefused("closed", "This session has ended or is not open now.")
NO_CONSENT = SocketRefused("no_consent", "Video sessions need a guardian's consent, and it is not active now.")


def _check_open_and_consent(room: LiveRoom, now: datetime) -> None:
    """Every connect and every event: a room past its time ends ("closed"); a room whose video
    consent is gone (revoked without the signal getting through, or expired at its end date, which
    sends no signal) ends ("no_consent") — for every member at once, not only this socket."""
    if services.close_if_past(room, now) or not permissions.room_is_open(room, now):
        raise CLOSED
    if not permissions.video_consent_active(room, now):
        services.end_room(room, "no_consent", now)
        raise NO_CONSENT


def _sockets_of(room_id: int, namespace: str, kind: str | None = None, actor_id: int | None = None) -> list[str]:
    query = select(RoomSocket.sid).where(RoomSocket.room_id == room_id, RoomSocket.namespace == namespace)
    if kind is not None:
        query = query.where(RoomSocket.actor_kind == kind, RoomSocket.actor_id == actor_id)
    return list(db.session.scalars(query))


class WaitingNamespace(RoomNamespace):
    EVENTS = {"hello": EventSpec(NO_PAYLOAD, rate=0.5, burst=3)}

    def authorize_room(self, actor, role, room, now):
        _check_open_and_consent(room, now)
        if not permissions.is_student_grant(actor) or not permissions.can_wait_for_call(actor, room, now):
            raise SocketRefused("forbidden", "This waiting room is for the student of this session.")
        if actor.assent != "yes":
            raise SocketRefused("no_assent", "Tell us first whether you are ready.")

    def room_connected(self, sid, actor, role, room, now):
        if actor.admitted_at is not None:
            emit("admitted", {"room": room.id})
            return
        socketio.emit("student_waiting", {"grant_id": actor.id}, to=f"/call:{room.id}", namespace="/call")

    def room_disconnected(self, sid, info):
        if not _sockets_of(info["room_id"], self.namespace, info["actor_kind"], info["actor_id"]):
            socketio.emit("student_left_waiting", {"grant_id": info["actor_id"]}, to=f"/call:{info['room_id']}",
                          namespace="/call")

    def on_hello(self, _payload):
        room, actor, _role = self.current()
        return {"ok": True, "admitted": actor.admitted_at is not None}


class CallNamespace(RoomNamespace):
    EVENTS = {
        "signal": EventSpec(SIGNAL, rate=20, burst=60),
        "chat": EventSpec({"type": "object", "required": ["text"], "additionalProperties": False,
                           "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 500}}},
                          rate=1, burst=5),
        "media_state": EventSpec({"type": "object", "additionalProperties": False,
                                  "required": ["muted", "camera_off"],
                                  "properties": {"muted": {"type": "boolean"}, "camera_off": {"type": "boolean"}}},
                                 rate=2, burst=10),
        "ice_servers": EventSpec(NO_PAYLOAD, rate=0.2, burst=3),
        "admit": EventSpec({"type": "object", "required": ["grant_id"], "additionalProperties": False,
                            "properties": {"grant_id": {"type": "integer", "minimum": 1, "maximum": 2**31}}},
                           rate=1, burst=5),
        "end": EventSpec(NO_PAYLOAD, rate=0.5, burst=3),
    }

    def authorize_room(self, actor, role, room, now):
        _check_open_and_consent(room, now)
        if role is None:
            if permissions.is_student_grant(actor) and permissions.is_waiting_student(actor, room, now):
                raise SocketRefused("not_admitted", "Your counselor has not let you in yet.")
            raise SocketRefused("forbidden", "Only the two people in this session can join the call.")
        if not permissions.can_join_call(actor, room, now):  # pragma: no cover - covered by the checks above
            raise SocketRefused("forbidden", "Only the two people in this session can join the call.")

    def room_connected(self, sid, actor, role, room, now):
        kind, actor_id = actor_key(actor)
        # One call socket per person: a reload (or a second tab) replaces the older socket, in
        # whichever process holds it. Its row goes too: the row of a socket whose process was
        # killed has nobody to delete it, and would make this person look still here when they
        # leave (no "peer_left", see room_disconnected).
        replaced = [old for old in _sockets_of(room.id, self.namespace, kind, actor_id) if old != sid]
        for old_sid in replaced:
            socketio.emit("replaced", {}, to=old_sid, namespace=self.namespace)
            socketio.server.disconnect(old_sid, namespace=self.namespace)
        if replaced:
            db.session.execute(delete(RoomSocket).where(RoomSocket.sid.in_(replaced)))
            db.session.commit()
        # Is the other participant here (in any process)? Our own older sockets do not count.
        present = bool(db.session.scalar(
            select(RoomSocket.id).where(RoomSocket.room_id == room.id, RoomSocket.namespace == self.namespace,
                                        RoomSocket.sid != sid,
                                        ~((RoomSocket.actor_kind == kind) & (RoomSocket.actor_id == actor_id)))
            .limit(1)))
        emit("joined", {"role": role, "peer_present": present, "closes_at": room.closes_at.isoformat(),
                        "started_at": room.started_at.isoformat() if room.started_at else None})
        emit("peer_joined", {"role": role}, to=self.room_channel(room.id), skip_sid=sid)
        if role == "therapist":
            waiting = services.waiting_grants(room)
            connected = {g for g in waiting if _sockets_of(room.id, "/waiting", "grant", g.id)}
            for grant in connected:
                emit("student_waiting", {"grant_id": grant.id})

    def room_disconnected(self, sid, info):
        # A socket replaced by the same person's newer one (a reload, a second tab) is not that
        # person leaving: "left" would make the other page drop the connection it is making with
        # the new socket, and wait for an arrival that already happened.
        if _sockets_of(info["room_id"], self.namespace, info["actor_kind"], info["actor_id"]):
            return
        socketio.emit("peer_left", {"role": info.get("role")}, to=self.room_channel(info["room_id"]),
                      namespace=self.namespace, skip_sid=sid)

    # -- events --------------------------------------------------------------------------------

    def on_signal(self, payload):
        room, _actor, role = self.current()
        emit("signal", {**payload, "from": role}, to=self.room_channel(room.id), skip_sid=request.sid)

    def on_chat(self, payload):
        room, _actor, role = self.current()
        text = payload["text"].strip()
        if not text:
            raise SocketRefused("invalid", "Type a message first.")
        # Relayed, never stored or logged.
        emit("chat", {"from": role, "text": text}, to=self.room_channel(room.id), skip_sid=request.sid)

    def on_media_state(self, payload):
        room, _actor, role = self.current()
        emit("media_state", {**payload, "from": role}, to=self.room_channel(room.id), skip_sid=request.sid)

    def on_ice_servers(self, _payload):
        """Fresh ICE servers: asked on connect, again before the TURN credentials expire and before
        every ICE restart. Refused (closed / no_consent / forbidden) once the room has ended or
        consent is gone, like every other event."""
        now = utcnow()
        room, actor, _role = self.current(now)
        policy = "relay" if current_app.config.get("ICE_TRANSPORT_POLICY") == "relay" else "all"
        try:
            servers, expires_at = services.ice_config(room, actor, now=now)
        except services.SessionError:
            raise SocketRefused("forbidden", "Only the two people in this session can join the call.") from None
        return {"ok": True, "iceServers": servers, "iceTransportPolicy": policy,
                "expiresIn": max(0, int((expires_at - now).total_seconds()))}

    def on_admit(self, payload):
        room, actor, role = self.current()
        if role != "therapist":
            raise SocketRefused("forbidden", "Only the counselor can let someone in.")
        grant = db.session.get(StudentGrant, payload["grant_id"])
        if grant is None or grant.room_id != room.id:
            raise SocketRefused("not_found", "This student is no longer waiting.")
        try:
            services.admit(actor, room, grant)
        except services.SessionError as error:
            raise SocketRefused("refused", str(error)) from None
        for sid in _sockets_of(room.id, "/waiting", "grant", grant.id):
            socketio.emit("admitted", {"room": room.id}, to=sid, namespace="/waiting")
        return {"ok": True}

    def on_end(self, _payload):
        room, actor, role = self.current()
        if role != "therapist":
            raise SocketRefused("forbidden", "Only the counselor can end the session.")
        services.end_room(room, "therapist_ended", actor=actor)
        return {"ok": True}


def register(socketio_) -> None:
    socketio_.on_namespace(WaitingNamespace("/waiting"))
    socketio_.on_namespace(CallNamespace("/call"))
