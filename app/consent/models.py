"""Consent forms, requests, per-guardian invitations, signatures and per-scope grants."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db_types import UTCDateTime, utcnow
from app.extensions import db

SCOPES = ("video_sessions", "games", "mood_checkins", "share_with_school_staff")

# requested -> partially_signed -> active | declined | expired | revoked
STATUSES = ("requested", "partially_signed", "active", "declined", "expired", "revoked")
OPEN_STATUSES = ("requested", "partially_signed")


class ConsentTemplate(db.Model):
    """A version of a district's consent form. Published versions are never edited."""

    __tablename__ = "consent_templates"
    __table_args__ = (UniqueConstraint("district_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title_en: Mapped[str] = mapped_column(String(200))
    title_es: Mapped[str] = mapped_column(String(200))
    body_en: Mapped[str] = mapped_column(Text)
    body_es: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list] = mapped_column(JSON)  # the scopes this form offers
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def title(self, lang: str) -> str:
        return self.title_es if lang == "es" else self.title_en

    def body(self, lang: str) -> str:
        return self.body_es if lang == "es" else self.body_en


class ConsentRequest(db.Model):
    __tablename__ = "consent_requests"
    __table_args__ = (Index("ix_consent_requests_student_status", "student_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    template_id: Mapped[int] = mapped_column(ForeignKey("consent_templates.id"))
    scopes: Mapped[list] = mapped_column(JSON)  # requested scopes
    policy: Mapped[str] = mapped_column(String(10))  # "any" or "all" legal guardians
    expires_on: Mapped[date] = mapped_column(Date)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # end of expires_on in the school's zone
    status: Mapped[str] = mapped_column(String(20), default="requested")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # declined/expired/revoked
    # Bumped on every change: a concurrent double submission cannot both win.
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version_id}

    student = relationship("Student")
    template: Mapped[ConsentTemplate] = relationship()
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    invitations: Mapped[list[ConsentInvitation]] = relationship(back_populates="request", order_by="ConsentInvitation.id")
    signatures: Mapped[list[ConsentSignature]] = relationship(back_populates="request", order_by="ConsentSignature.id")
    grants: Mapped[list[ConsentGrant]] = relationship(back_populates="request", order_by="ConsentGrant.scope")


class ConsentInvitation(db.Model):
    """One legal guardian asked to decide on one request. The emailed link names this row."""

    __tablename__ = "consent_invitations"
    __table_args__ = (UniqueConstraint("request_id", "guardian_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("consent_requests.id"), index=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))  # the address invited; an account set up from it is bound to it
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    link_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Rotated when the link is re-sent, so older links stop working.
    link_nonce: Mapped[str] = mapped_column(String(32))

    request: Mapped[ConsentRequest] = relationship(back_populates="invitations")
    guardian = relationship("User")


class ConsentSignature(db.Model):
    """A guardian's decision, with the exact text they saw and its SHA-256."""

    __tablename__ = "consent_signatures"
    __table_args__ = (UniqueConstraint("request_id", "guardian_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("consent_requests.id"), index=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(10))  # "signed" or "declined"
    choices: Mapped[dict] = mapped_column(JSON)  # scope -> bool
    typed_name: Mapped[str] = mapped_column(String(200))
    confirmed_legal_guardian: Mapped[bool] = mapped_column(Boolean)
    drawn_signature_png: Mapped[str | None] = mapped_column(Text)  # data: URL, size-limited
    decline_reason: Mapped[str | None] = mapped_column(String(1000))
    language: Mapped[str] = mapped_column(String(8))
    template_version: Mapped[int] = mapped_column(Integer)
    text_snapshot: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    request: Mapped[ConsentRequest] = relationship(back_populates="signatures")
    guardian = relationship("User")


class ConsentGrant(db.Model):
    """One scope granted for one student by an active request, until revoked or expired.

    `consent_is_active(student, scope, at)` is one indexed lookup on this table.
    """

    __tablename__ = "consent_grants"
    __table_args__ = (
        UniqueConstraint("request_id", "scope"),
        Index("ix_consent_grants_lookup", "student_id", "scope", "granted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("consent_requests.id"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    scope: Mapped[str] = mapped_column(String(40))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    request: Mapped[ConsentRequest] = relationship(back_populates="grants")


class ConsentReminder(db.Model):
    """A reminder already sent, so the cron job never sends the same one twice."""

    __tablename__ = "consent_reminders"
    __table_args__ = (UniqueConstraint("request_id", "guardian_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("consent_requests.id"))
    guardian_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(30))  # "unsigned" | "expiring"
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
