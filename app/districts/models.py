"""Districts, schools, students, guardian links and caseloads."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db_types import EncryptedText, UTCDateTime, utcnow
from app.extensions import db

if TYPE_CHECKING:
    from app.auth.models import User

LANGUAGES = ("en", "es")

therapist_schools = Table(
    "therapist_schools",
    db.metadata,
    Column("therapist_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("school_id", ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True),
)


class District(db.Model):
    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    school_year_end: Mapped[date] = mapped_column(Date)
    # "any": one legal guardian's signature activates consent; "all": every legal guardian must sign.
    consent_policy: Mapped[str] = mapped_column(String(10), default="any")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    schools: Mapped[list[School]] = relationship(back_populates="district", order_by="School.name")


class School(db.Model):
    __tablename__ = "schools"
    __table_args__ = (UniqueConstraint("district_id", "name"), UniqueConstraint("district_id", "source_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    source_id: Mapped[str | None] = mapped_column(String(64))  # the roster system's org sourcedId
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    district: Mapped[District] = relationship(back_populates="schools")


class Student(db.Model):
    """A student. Students never have passwords: they join calls with one-room grants."""

    __tablename__ = "students"
    __table_args__ = (
        UniqueConstraint("district_id", "source_id"),
        Index("ix_students_district_school_name", "district_id", "school_id", "last_name", "first_name"),
        Index("ix_students_district_active_school", "district_id", "active", "school_id"),
        Index("ix_students_district_name", "district_id", "last_name", "first_name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    source_id: Mapped[str | None] = mapped_column(String(64))  # the roster system's id
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    preferred_name: Mapped[str | None] = mapped_column(String(100))
    grade: Mapped[str] = mapped_column(String(4))  # "K", "1".."12"
    date_of_birth: Mapped[date] = mapped_column(Date)
    preferred_language: Mapped[str] = mapped_column(String(8), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    school: Mapped[School] = relationship()
    guardian_links: Mapped[list[GuardianLink]] = relationship(back_populates="student")

    @property
    def display_name(self) -> str:
        return f"{self.preferred_name or self.first_name} {self.last_name}"

    @property
    def initials(self) -> str:
        return f"{(self.preferred_name or self.first_name)[:1]}{self.last_name[:1]}".upper()


class GuardianLink(db.Model):
    __tablename__ = "guardian_links"
    __table_args__ = (UniqueConstraint("guardian_id", "student_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    relationship_label: Mapped[str] = mapped_column("relationship", String(40))
    legal_authority: Mapped[bool] = mapped_column(Boolean, default=False)
    # A restricted link (e.g. a court order) may not sign consent or see records.
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    guardian: Mapped[User] = relationship()
    student: Mapped[Student] = relationship(back_populates="guardian_links")


class CaseloadAssignment(db.Model):
    """Therapist <-> student for a period. Rows are closed (ends_on set), never deleted."""

    __tablename__ = "caseload_assignments"
    __table_args__ = (
        Index("ix_caseload_therapist_open", "therapist_id", "ends_on"),
        # Covering: "is this student on a caseload on day D, and whose" without reading the rows.
        Index("ix_caseload_student_dates", "student_id", "ends_on", "starts_on", "therapist_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    therapist: Mapped[User] = relationship(foreign_keys=[therapist_id])
    student: Mapped[Student] = relationship()
    assigned_by: Mapped[User | None] = relationship(foreign_keys=[assigned_by_id])

    def is_current(self, on: date) -> bool:
        return self.starts_on <= on and (self.ends_on is None or self.ends_on >= on)


class RosterImport(db.Model):
    """An uploaded roster, kept (encrypted) between its preview and its application."""

    __tablename__ = "roster_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(EncryptedText)
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="previewed")  # previewed | applied | superseded
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    uploaded_by = relationship("User", foreign_keys=[uploaded_by_id])
