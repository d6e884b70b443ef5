"""After the session: the therapist's private DAP note (Data, Assessment, Plan).

One note per appointment. The three fields are encrypted at rest (EncryptedText: Fernet under
DATA_ENCRYPTION_KEYS, the key ring that also protects TOTP secrets). Only therapists who have the
student on their caseload read or write it (`can_view_session_note` / `can_write_session_note`);
admins and guardians never see it. The text is never logged and never put in audit details: the
audit trail records only "note.written" with ids.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, select
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.services import record
from app.db_types import EncryptedText, UTCDateTime, utcnow
from app.extensions import db
from app.permissions import can_write_session_note

MAX_FIELD_CHARS = 10_000
DAP_FIELDS = ("data", "assessment", "plan")


class SessionNoteError(ValueError):
    """A note that cannot be saved, with a message for the therapist."""


class SessionNote(db.Model):
    __tablename__ = "session_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), unique=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    data: Mapped[str] = mapped_column(EncryptedText, default="")
    assessment: Mapped[str] = mapped_column(EncryptedText, default="")
    plan: Mapped[str] = mapped_column(EncryptedText, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:  # never the text
        return f"<SessionNote {self.id} appointment={self.appointment_id}>"


def note_for(appointment) -> SessionNote | None:
    return db.session.scalar(select(SessionNote).where(SessionNote.appointment_id == appointment.id,
                                                       SessionNote.district_id == appointment.district_id))


def connected_minutes(appointment) -> int | None:
    """Minutes the call was connected, from the appointment's live room (None without one).

    The live room (app/sessions/models.py) arrives with the live-sessions work; until it does,
    or when the call never started or has not ended, there is nothing to measure.
    """
    try:
        from app.sessions.models import LiveRoom  # type: ignore[import-not-found]
    except ImportError:
        return None
    room = db.session.scalar(select(LiveRoom).where(LiveRoom.appointment_id == appointment.id))
    started, ended = getattr(room, "started_at", None), getattr(room, "ended_at", None)
    if started is None or ended is None or ended <= started:
        return None
    return max(1, round((ended - started).total_seconds() / 60))


def suggested_minutes(appointment) -> int:
    """What to prefill: minutes already recorded, else connected time, else the planned length."""
    if appointment.minutes_delivered:
        return appointment.minutes_delivered
    return connected_minutes(appointment) or appointment.duration_minutes


def write_note(actor, appointment, *, data: str, assessment: str, plan: str, ip: str | None = None,
               now: datetime | None = None) -> SessionNote:
    """Create or replace the DAP note of `appointment` (one transaction, audited with ids only)."""
    now = now or utcnow()
    if not can_write_session_note(actor, appointment, now):  # views check first; this is the backstop
        raise SessionNoteError("You cannot write a note for this session.")
    fields = {"data": (data or "").strip(), "assessment": (assessment or "").strip(), "plan": (plan or "").strip()}
    if not any(fields.values()):
        raise SessionNoteError("Write at least one part of the note.")
    if any(len(v) > MAX_FIELD_CHARS for v in fields.values()):
        raise SessionNoteError(f"Each part of the note can be at most {MAX_FIELD_CHARS:,} characters.")
    note = note_for(appointment)
    created = note is None
    if created:
        note = SessionNote(district_id=appointment.district_id, appointment_id=appointment.id, author_id=actor.id,
                           created_at=now)
        db.session.add(note)
    for name, value in fields.items():
        setattr(note, name, value)
    note.updated_by_id, note.updated_at = actor.id, now
    db.session.flush()
    record("note.written", actor=actor, target=note, student_id=appointment.student_id, ip=ip, now=now,
           appointment_id=appointment.id, created=created)
    db.session.commit()
    return note
