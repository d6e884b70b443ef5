"""Live rooms: open, share the join link or code, redeem them, assent, admit and end.

Services take explicit arguments (actor, objects, now) and never read the request or the session;
each public function is one transaction, its audit event committing with it. Audit details never
carry a token, a code or anything said in a session.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import permissions
from app.audit.services import record
from app.consent.services import consent_is_active
from app.db_types import utcnow
from app.extensions import db
from app.sessions.models import ASSENT_CHOICES, ENDED_REASONS, LiveRoom, StudentGrant
from app.sessions.signals import room_ended
from app.sessions.turn import ice_servers

#: No 0/O, 1/I/L: a child can read the code aloud and type it without guessing.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
TOKEN_BYTES = 32  # 256 bits


class SessionError(ValueError):
    """A refused live-session operation, with a message meant for the person."""


class JoinError(SessionError):
    """A join link or code that does not let anyone in (unknown, ended, closed, no consent).

    `code` says which, so the join page can speak plainly without telling a guesser more."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_code(text: str) -> str:
    """What a child typed, as a code: capitals, no spaces or dashes."""
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())[:16]


def _new_code(now: datetime) -> str:
    """A code no open room uses. A closed room still holding one gives it up."""
    for _attempt in range(50):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        holder = db.session.scalar(select(LiveRoom).where(LiveRoom.join_code == code))
        if holder is None:
            return code
        if not permissions.room_is_open(holder, now):
            holder.join_code = None
            db.session.flush()
            return code
    raise SessionError("We could not make a join code. Please try again.")  # pragma: no cover


def room_for_appointment(appointment_id: int) -> LiveRoom | None:
    return db.session.scalar(select(LiveRoom).where(LiveRoom.appointment_id == appointment_id))


def open_room(actor, appointment, *, now: datetime | None = None) -> LiveRoom:
    """The therapist opens the room of a telehealth appointment, inside its window (10 minutes
    before the start until the end), while video consent is active. Opening it again returns it."""
    now = now or utcnow()
    if appointment.modality != "telehealth":
        raise SessionError("Only video (telehealth) sessions have a room.")
    if not permissions.can_open_room(actor, appointment, now):
        opens_at, closes_at = permissions.room_window(appointment)
        if appointment.therapist_id == getattr(actor, "id", None) and now < opens_at:
            raise SessionError("The room opens 10 minutes before the session starts.")
        if appointment.therapist_id == getattr(actor, "id", None) and now >= closes_at:
            raise SessionError("This session is over; its room is closed.")
        raise SessionError("You cannot open the room of this session.")
    if not consent_is_active(appointment.student_id, "video_sessions", now):
        raise SessionError("Video sessions need a guardian's consent, and it is not active now. "
                           "Ask the guardian for consent, or meet in person.")
    room = room_for_appointment(appointment.id)
    if room is not None:
        if room.is_ended:
            raise SessionError("This session's room has ended. Book another session to meet again.")
        if room.join_code is None:
            room.join_code = _new_code(now)
            db.session.commit()
        return room
    opens_at, closes_at = permissions.room_window(appointment)
    room = LiveRoom(district_id=appointment.district_id, appointment_id=appointment.id,
                    therapist_id=appointment.therapist_id, student_id=appointment.student_id,
                    opens_at=opens_at, closes_at=closes_at, status="open", created_at=now,
                    join_code=_new_code(now))
    db.session.add(room)
    try:
        db.session.flush()
    except IntegrityError:  # a double-submitted "Open": the other request made the room
        db.session.rollback()
        return room_for_appointment(appointment.id)
    record("live_room.opened", actor=actor, district_id=room.district_id, target=room,
           student_id=room.student_id, now=now, appointment_id=appointment.id)
    db.session.commit()
    return room


def _new_join_token(actor, room: LiveRoom, now: datetime) -> str:
    if not permissions.can_manage_room(actor, room, now):
        raise SessionError("This room is not open.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    room.join_token_hash = hash_token(token)
    room.join_token_issued_at = now
    return token


def issue_join_link(actor, room: LiveRoom, *, now: datetime | None = None) -> str:
    """A fresh join-link token (256 random bits) for the room; the previous one stops working.
    Only its SHA-256 is stored, so the token is shown once and never again."""
    now = now or utcnow()
    token = _new_join_token(actor, room, now)
    record("live_room.link_issued", actor=actor, district_id=room.district_id, target=room,
           student_id=room.student_id, now=now)
    db.session.commit()
    return token


def email_join_link(actor, room: LiveRoom, link_for, *, now: datetime | None = None) -> int:
    """Email a fresh join link to the student's guardians with legal authority (active,
    unrestricted links); it replaces the previous link. `link_for(token)` builds the absolute URL.
    Sent after the commit. Returns how many were sent."""
    from app.consent.services import legal_guardians
    from app.sessions.notify import send_join_link

    now = now or utcnow()
    guardians = legal_guardians(room.student)
    if not guardians:
        raise SessionError("This student has no guardian with legal authority to send the link to.")
    token = _new_join_token(actor, room, now)
    record("live_room.link_emailed", actor=actor, district_id=room.district_id, target=room,
           student_id=room.student_id, now=now, recipients=len(guardians))
    db.session.commit()
    url = link_for(token)
    for guardian in guardians:
        send_join_link(room, guardian, url)
    return len(guardians)


def _grant_for(room: LiveRoom, via: str, now: datetime) -> StudentGrant:
    if not permissions.room_is_open(room, now):
        close_if_past(room, now)
        raise JoinError("closed", "This session is not open right now.")
    if not consent_is_active(room.student_id, "video_sessions", now):
        raise JoinError("no_consent", "This video session cannot start: a guardian's consent for video "
                                      "sessions is not active. Please tell your counselor or a grown-up.")
    earlier_assent = db.session.scalar(
        select(StudentGrant.id).where(StudentGrant.student_id == room.student_id, StudentGrant.assent == "yes").limit(1)
    )
    grant = StudentGrant(district_id=room.district_id, room_id=room.id, student_id=room.student_id, via=via,
                         created_at=now, assent="yes" if earlier_assent else None,
                         assent_at=now if earlier_assent else None)
    db.session.add(grant)
    db.session.flush()
    record("live_room.joined", actor=None, district_id=room.district_id, target=room, student_id=room.student_id,
           now=now, grant_id=grant.id, via=via)
    db.session.commit()
    return grant


def find_room_by_token(token: str) -> LiveRoom | None:
    if not token or len(token) > 100:
        return None
    return db.session.scalar(select(LiveRoom).where(LiveRoom.join_token_hash == hash_token(token)))


def redeem_token(token: str, *, now: datetime | None = None) -> StudentGrant:
    """A join link's token -> a grant for its room (the room must be open, consent active)."""
    now = now or utcnow()
    room = find_room_by_token(token)
    if room is None:
        raise JoinError("unknown", "This link does not work. Ask your counselor for a new one.")
    return _grant_for(room, "link", now)


def find_room_by_code(code: str, now: datetime) -> LiveRoom | None:
    code = normalise_code(code)
    if len(code) != CODE_LENGTH:
        return None
    room = db.session.scalar(select(LiveRoom).where(LiveRoom.join_code == code))
    return room if room is not None and permissions.room_is_open(room, now) else None


def redeem_code(code: str, *, now: datetime | None = None) -> StudentGrant:
    """A join code typed by the student -> a grant for the open room that has it."""
    now = now or utcnow()
    room = find_room_by_code(code, now)
    if room is None:
        raise JoinError("unknown", "That code does not match a session that is open now. Check it and try again.")
    return _grant_for(room, "code", now)


def record_assent(grant: StudentGrant, choice: str, *, now: datetime | None = None) -> StudentGrant:
    """The student's own answer on the assent screen ("yes" or "not_now"), kept on the grant."""
    now = now or utcnow()
    if choice not in ASSENT_CHOICES:
        raise SessionError("Please choose one of the answers.")
    if not grant.active:
        raise JoinError("closed", "This session has ended.")
    grant.assent = choice
    grant.assent_at = now
    record("live_room.assent", actor=None, district_id=grant.district_id, target=grant.room,
           student_id=grant.student_id, now=now, grant_id=grant.id, assent=choice)
    db.session.commit()
    return grant


def waiting_grants(room: LiveRoom) -> list[StudentGrant]:
    """Grants of this room still waiting to be let in (assent given), oldest first."""
    return list(db.session.scalars(
        select(StudentGrant).where(StudentGrant.room_id == room.id, StudentGrant.revoked_at.is_(None),
                                   StudentGrant.admitted_at.is_(None), StudentGrant.assent == "yes")
        .order_by(StudentGrant.id)
    ))


def admit(actor, room: LiveRoom, grant: StudentGrant, *, now: datetime | None = None) -> StudentGrant:
    """The therapist lets a waiting student in: the room goes live."""
    now = now or utcnow()
    if not permissions.can_manage_room(actor, room, now):
        raise SessionError("This room is not open.")
    if grant.room_id != room.id or not grant.active:
        raise SessionError("This student is no longer waiting.")
    if grant.assent != "yes":
        raise SessionError("The student has not said they are ready yet.")
    if not consent_is_active(room.student_id, "video_sessions", now):
        raise SessionError("Video consent is not active now.")
    # One student seat per room: admitting this grant revokes every other grant of the room (an
    # old tab on a shared computer, a classmate who saw the code), and their sockets are closed.
    others = db.session.scalars(select(StudentGrant).where(
        StudentGrant.room_id == room.id, StudentGrant.id != grant.id, StudentGrant.revoked_at.is_(None))).all()
    for other in others:
        other.revoked_at = now
    if grant.admitted_at is None:
        grant.admitted_at = now
        record("live_room.admitted", actor=actor, district_id=room.district_id, target=room,
               student_id=room.student_id, now=now, grant_id=grant.id)
    if room.status == "open":
        room.status = "live"
        room.started_at = room.started_at or now
    db.session.commit()
    if others:
        from app.sessions.access import close_actor_sockets

        close_actor_sockets(room.id, "grant", [other.id for other in others], "replaced")
    return grant


def end_room(room: LiveRoom, reason: str, now: datetime | None = None, actor=None) -> bool:
    """End the room for everyone: mark it ended, forget its link and code, revoke its grants,
    commit, audit, then send `room_ended` (subscribers disconnect its sockets). Ending an ended
    room changes nothing and returns False."""
    now = now or utcnow()
    if reason not in ENDED_REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    if room.is_ended:
        return False
    # Claimed in the database, not only in memory: of two processes ending the same room at once
    # (the cron job and a socket event, two cron runs), one ends it and the other changes nothing.
    claimed = db.session.execute(
        update(LiveRoom).where(LiveRoom.id == room.id, LiveRoom.status != "ended")
        .values(status="ended", ended_at=now, ended_reason=reason, join_code=None, join_token_hash=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:  # nothing was written: someone else ended it first
        db.session.refresh(room)
        return False
    room.status = "ended"
    room.ended_at = now
    room.ended_reason = reason
    room.join_code = None
    room.join_token_hash = None
    db.session.execute(
        update(StudentGrant).where(StudentGrant.room_id == room.id, StudentGrant.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    record("live_room.ended", actor=actor, district_id=room.district_id, target=room, student_id=room.student_id,
           now=now, reason=reason)
    db.session.commit()
    room_ended.send(room, room_id=room.id, district_id=room.district_id, reason=reason, at=now)
    return True


def close_if_past(room: LiveRoom, now: datetime) -> bool:
    """A room whose session is over ends ("closed") the first time anyone looks at it afterwards."""
    if room.is_ended or now < room.closes_at:
        return False
    return end_room(room, "closed", now)


def close_due(now: datetime | None = None) -> list[int]:
    """End ("closed") every room whose time is over; the cron job `flask sessions close-due`.
    Idempotent: a second run, or a run racing a room's own lazy close, ends nothing twice."""
    now = now or utcnow()
    return end_rooms_where(LiveRoom.closes_at <= now, reason="closed", now=now)


def end_rooms_where(*criteria, reason: str, now: datetime | None = None) -> list[int]:
    """End every not-yet-ended room matching `criteria`; returns their ids."""
    now = now or utcnow()
    rooms = list(db.session.scalars(select(LiveRoom).where(LiveRoom.status != "ended", *criteria)))
    return [room.id for room in rooms if end_room(room, reason, now)]


#: How long one set of call TURN credentials lasts (never past the room's close). The call page
#: asks for fresh ones before they expire and before every ICE restart; coturn checks the expiry
#: only when an allocation is made, so a relay already carrying the call is not cut when they lapse.
CALL_TURN_LIFETIME = timedelta(minutes=10)


def turn_expiry(room: LiveRoom, now: datetime) -> datetime:
    """When TURN credentials issued now for this room stop working: the room's close or
    CALL_TURN_LIFETIME from now, whichever is first."""
    lifetime = current_app.config.get("CALL_TURN_LIFETIME") or CALL_TURN_LIFETIME
    return min(room.closes_at, now + lifetime)


def ice_config(room: LiveRoom, actor, *, now: datetime | None = None) -> tuple[list[dict], datetime]:
    """ICE servers for an authorised participant of an open room, with TURN credentials that
    expire after CALL_TURN_LIFETIME or when the room closes, whichever is first; and that expiry.
    Refused to everyone else (an ended room, withdrawn consent, a grant not let in)."""
    now = now or utcnow()
    if not permissions.can_join_call(actor, room, now):
        raise SessionError("You are not part of this session.")
    expires_at = turn_expiry(room, now)
    return ice_servers(current_app.config, secrets.token_hex(8), expires_at), expires_at
