"""Saved games beside a live session, and the mood check-ins a student gives.

A `GameSession` is one activity in one live room: the rules' state (JSON, exactly what
`app.games.rules` returns), a version that every move must name, and the ids of recent moves
so a resent move is recognised. The version is SQLAlchemy's optimistic lock as well: two
moves made on the same version in two processes cannot both be saved (the second UPDATE
matches no row and is refused as stale).

A `MoodCheckin` is one face (1..5) a student picked at the start or end of a session. It is
health information: it is stored only while `mood_checkins` consent is active, never logged,
never put into audit details.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db_types import UTCDateTime, utcnow
from app.extensions import db

GAME_STATUSES = ("active", "paused", "ended")
# Why a game ended: the therapist ended it, started another, the room ended, consent was withdrawn.
END_REASONS = ("therapist_ended", "replaced", "room_ended", "consent_revoked")
MOMENTS = ("start", "end")
RECENT_MOVE_IDS = 200  # how many move ids a game remembers to refuse duplicates


class GameSession(db.Model):
    """One activity in one live room. At most one per room is not ended (the current game)."""

    __tablename__ = "game_sessions"
    __table_args__ = (
        Index("ix_game_sessions_room_status", "room_id", "status"),
        CheckConstraint("status IN ('active', 'paused', 'ended')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("live_rooms.id"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    game: Mapped[str] = mapped_column(String(40))
    state: Mapped[dict] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    seed: Mapped[int] = mapped_column(Integer)
    first_player: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="active")
    student_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    recent_move_ids: Mapped[list] = mapped_column(JSON, default=list)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_reason: Mapped[str | None] = mapped_column(String(30))

    # We set the next version ourselves; SQLAlchemy adds "WHERE version = <old>" to each UPDATE.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class MoodCheckin(db.Model):
    """The face a student picked at the start or end of one session (one of each per room)."""

    __tablename__ = "mood_checkins"
    __table_args__ = (
        UniqueConstraint("room_id", "moment"),
        Index("ix_mood_checkins_student_at", "student_id", "recorded_at"),
        CheckConstraint("face BETWEEN 1 AND 5", name="face"),
        CheckConstraint("moment IN ('start', 'end')", name="moment"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    room_id: Mapped[int] = mapped_column(ForeignKey("live_rooms.id"))
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), index=True)
    moment: Mapped[str] = mapped_column(String(5))
    face: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
