"""Staff and guardian accounts and their server-side sessions."""

from __future__ import annotations

import hashlib
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db_types import EncryptedText, UTCDateTime, utcnow
from app.districts.models import District, School, therapist_schools
from app.extensions import db

ROLES = ("district_admin", "school_admin", "therapist", "guardian")
STAFF_ROLES = ("district_admin", "school_admin", "therapist")


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("district_id", "source_id"),
        # A district's active therapists (or staff of one role) by name, without sorting its guardians.
        Index("ix_users_district_role_active_name", "district_id", "role", "active", "name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str | None] = mapped_column(String(64))  # the roster system's sourcedId (guardians)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))  # school admins
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    preferred_language: Mapped[str] = mapped_column(String(8), default="en")
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)  # refuses a replayed code
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    district: Mapped[District] = relationship()
    school: Mapped[School | None] = relationship(foreign_keys=[school_id])
    schools: Mapped[list[School]] = relationship(secondary=therapist_schools, order_by="School.name")

    # Set per request by the user loader (not columns): the UserSession this request runs
    # under, and the raw token Flask-Login writes into the cookie at login.
    current_session = None  # UserSession | None
    current_session_token = None  # str | None

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def mfa_enrolled(self) -> bool:
        return self.totp_secret is not None

    def get_id(self) -> str | None:
        # Flask-Login stores this in the cookie: the session token, never the user id,
        # so revoking the UserSession row makes a replayed cookie worthless.
        return self.current_session_token


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserSession(db.Model):
    """One signed-in browser. The cookie carries the token; the database keeps its SHA-256."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_open", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User] = relationship()
