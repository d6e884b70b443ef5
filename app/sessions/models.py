"""Live rooms, one-room student grants and the sockets connected to a room.

A `LiveRoom` belongs to one telehealth appointment: it opens 10 minutes before the start and
closes at the end. A student never has an account: redeeming the room's join link or join code
gives a `StudentGrant`, a credential for that one room, kept in the Flask session.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db_types import UTCDateTime, utcnow
from app.extensions import db

if TYPE_CHECKING:
    from app.auth.models import User
    from app.districts.models import Student
    from app.scheduling.models import Appointment

ROOM_STATUSES = ("open", "live", "ended")
#: "no_consent": video consent was found inactive during the session (expired at its end date,
#: or revoked while the revocation signal did not reach the room).
ENDED_REASONS = ("therapist_ended", "consent_revoked", "no_consent", "deactivated", "closed")
ASSENT_CHOICES = ("yes", "not_now")


class LiveRoom(db.Model):
    """The video room of one telehealth appointment (open -> live -> ended)."""

    __tablename__ = "live_rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), unique=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_reason: Mapped[str | None] = mapped_column(String(20))
    # The join link's token is shown once; only its SHA-256 is kept. A new link replaces the old.
    join_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    join_token_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The short code a student types; valid only while the room is open, cleared when it ends.
    join_code: Mapped[str | None] = mapped_column(String(8), unique=True)

    appointment: Mapped[Appointment] = relationship()
    student: Mapped[Student] = relationship()
    therapist: Mapped[User] = relationship()

    @property
    def is_ended(self) -> bool:
        return self.status == "ended"


class StudentGrant(db.Model):
    """A student's credential for one room: not an account, and an *actor* for the permission
    rules (`role = "student_grant"`, never authenticated)."""

    __tablename__ = "student_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("live_rooms.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    via: Mapped[str] = mapped_column(String(10))  # "code" | "link"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    admitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assent: Mapped[str | None] = mapped_column(String(10))  # ASSENT_CHOICES
    assent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    room: Mapped[LiveRoom] = relationship()
    student: Mapped[Student] = relationship()

    role = "student_grant"
    is_authenticated = False
    is_anonymous = True

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def audit_label(self) -> str:
        return f"student_grant:{self.id}"


class RoomSocket(db.Model):
    """A socket connected to a room, in any process: ending a room disconnects each of them by
    sid, which the Socket.IO message queue carries to whichever process holds it."""

    __tablename__ = "live_room_sockets"
    __table_args__ = (Index("ix_live_room_sockets_room", "room_id", "namespace"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("live_rooms.id", ondelete="CASCADE"))
    namespace: Mapped[str] = mapped_column(String(20))
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    actor_kind: Mapped[str] = mapped_column(String(10))  # "user" | "grant"
    actor_id: Mapped[int] = mapped_column()
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
