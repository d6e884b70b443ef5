"""School calendars, therapist availability, appointments and what the scheduling jobs sent.

Times of day that belong to a school (bell periods, availability windows) are stored as local
wall-clock `Time` values and read in the school's time zone. Instants (appointments, time off)
are stored in UTC with `UTCDateTime` and shown in the school's zone.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db_types import UTCDateTime, utcnow
from app.extensions import db

if TYPE_CHECKING:
    from app.auth.models import User
    from app.districts.models import School, Student

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")  # date.weekday()
MODALITIES = ("telehealth", "in_person")
# scheduled -> completed | cancelled; scheduled <-> needs_consent (telehealth whose consent ended).
STATUSES = ("scheduled", "needs_consent", "completed", "cancelled")
OPEN_STATUSES = ("scheduled", "needs_consent")
ATTENDANCE = ("attended", "no_show", "cancelled_student", "cancelled_guardian", "cancelled_therapist",
              "cancelled_school")
CANCELLED_BY = ("therapist", "student", "guardian", "school")
#: Sessions start on a 5-minute mark; see SlotClaim.
SLOT_MINUTES = 5


class BellSchedule(db.Model):
    """A named bell schedule of one school ("Regular day", "Minimum day").

    The default schedule applies on every weekday (Monday to Friday) that the school calendar
    does not mark otherwise; a CalendarDay picks another schedule or marks no school.
    """

    __tablename__ = "bell_schedules"
    __table_args__ = (UniqueConstraint("school_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    school: Mapped[School] = relationship()
    periods: Mapped[list[BellPeriod]] = relationship(
        back_populates="schedule", order_by=lambda: [BellPeriod.weekday, BellPeriod.starts_local],
        cascade="all, delete-orphan",
    )


class BellPeriod(db.Model):
    """A named class period on one weekday of a bell schedule, in the school's local time."""

    __tablename__ = "bell_periods"
    __table_args__ = (UniqueConstraint("schedule_id", "weekday", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("bell_schedules.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    starts_local: Mapped[time] = mapped_column(Time)
    ends_local: Mapped[time] = mapped_column(Time)

    schedule: Mapped[BellSchedule] = relationship(back_populates="periods")


class CalendarDay(db.Model):
    """One date of a school's calendar that differs from the default: no school, or another schedule."""

    __tablename__ = "school_calendar_days"
    __table_args__ = (UniqueConstraint("school_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))  # "no_school" | "schedule"
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("bell_schedules.id", ondelete="CASCADE"))
    label: Mapped[str | None] = mapped_column(String(80))  # "Thanksgiving", "Testing day"

    schedule: Mapped[BellSchedule | None] = relationship()


class Availability(db.Model):
    """A weekly window when a therapist takes sessions at one school (school local time)."""

    __tablename__ = "therapist_availability"
    __table_args__ = (Index("ix_therapist_availability_lookup", "therapist_id", "school_id", "weekday"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    weekday: Mapped[int] = mapped_column(Integer)
    starts_local: Mapped[time] = mapped_column(Time)
    ends_local: Mapped[time] = mapped_column(Time)

    school: Mapped[School] = relationship()


class TimeOff(db.Model):
    """A therapist's time away, as UTC instants."""

    __tablename__ = "therapist_time_off"
    __table_args__ = (Index("ix_therapist_time_off_lookup", "therapist_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    label: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AppointmentSeries(db.Model):
    """How a recurring booking was asked for; its occurrences are independent Appointments."""

    __tablename__ = "appointment_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    interval_weeks: Mapped[int] = mapped_column(Integer)  # 1 weekly, 2 every other week
    first_date: Mapped[date] = mapped_column(Date)
    local_time: Mapped[time | None] = mapped_column(Time)  # booked by time of day ...
    period_name: Mapped[str | None] = mapped_column(String(40))  # ... or by class period
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    modality: Mapped[str] = mapped_column(String(20))
    occurrences: Mapped[int | None] = mapped_column(Integer)
    until: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Appointment(db.Model):
    """One session of a therapist with a student. Each occurrence of a series stands alone:
    it is moved, cancelled and attended on its own. Live sessions (next issue) attach a room to
    a telehealth appointment by its id."""

    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_therapist_start", "therapist_id", "starts_at"),
        Index("ix_appointments_student_start", "student_id", "starts_at"),
        Index("ix_appointments_school_start", "school_id", "starts_at"),
        Index("ix_appointments_school_local_date", "school_id", "local_date"),  # school dashboards
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("appointment_series.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    local_date: Mapped[date] = mapped_column(Date)  # the date at the school
    period_name: Mapped[str | None] = mapped_column(String(40))  # when booked by class period
    modality: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rescheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reschedule_reason: Mapped[str | None] = mapped_column(String(300))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_by_party: Mapped[str | None] = mapped_column(String(20))  # CANCELLED_BY
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    consent_flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # set when consent ended
    attendance: Mapped[str | None] = mapped_column(String(30))  # ATTENDANCE
    minutes_delivered: Mapped[int | None] = mapped_column(Integer)
    attendance_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    school: Mapped[School] = relationship()
    therapist: Mapped[User] = relationship(foreign_keys=[therapist_id])
    student: Mapped[Student] = relationship()
    series: Mapped[AppointmentSeries | None] = relationship()

    @property
    def duration_minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class SlotClaim(db.Model):
    """The database's proof against double-booking.

    An open appointment claims every 5-minute mark in [starts_at, ends_at) for its therapist
    and for its student, in the same transaction that writes it. Sessions start on a 5-minute
    mark, so two sessions overlap exactly when the later one's start is a mark the earlier one
    claims: the UNIQUE constraint then refuses the second commit, on SQLite and PostgreSQL alike,
    however the two requests interleave.
    """

    __tablename__ = "appointment_slot_claims"
    __table_args__ = (UniqueConstraint("kind", "resource_id", "slot_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "therapist" | "student"
    resource_id: Mapped[int] = mapped_column(Integer)
    slot_start: Mapped[datetime] = mapped_column(UTCDateTime)


class TeacherContact(db.Model):
    """The teacher to notify when a student is pulled out of a class period (by period name)."""

    __tablename__ = "teacher_contacts"
    __table_args__ = (UniqueConstraint("student_id", "period_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    period_name: Mapped[str] = mapped_column(String(40))
    teacher_email: Mapped[str] = mapped_column(String(254))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GuardianReminderPreference(db.Model):
    """A guardian's opt-in to session reminders (no row means no reminders)."""

    __tablename__ = "guardian_reminder_preferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SentNotice(db.Model):
    """A reminder, agenda or teacher notice already sent. Claimed before sending (unique), so
    two cron runs never send the same one twice."""

    __tablename__ = "schedule_notices_sent"
    __table_args__ = (UniqueConstraint("kind", "ref", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # "guardian_24h" | "therapist_agenda" | "teacher_notice"
    ref: Mapped[str] = mapped_column(String(80))  # what it is about: appointment and its time, or a date
    recipient: Mapped[str] = mapped_column(String(260))  # "user:<id>" or an email address
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarFeed(db.Model):
    """A therapist's private iCal feed. Only the SHA-256 of the URL's token is stored."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
