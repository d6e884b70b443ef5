"""Read-only scheduling queries for pages. A fixed number of queries per page, whatever its size."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.auth.models import User
from app.districts.models import GuardianLink, Student
from app.extensions import db
from app.scheduling.models import (
    Appointment,
    CalendarDay,
    GuardianReminderPreference,
    TeacherContact,
    TimeOff,
)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _sessions(*criteria) -> list[Appointment]:
    return list(db.session.scalars(
        select(Appointment).where(*criteria)
        .options(joinedload(Appointment.student), joinedload(Appointment.school), joinedload(Appointment.therapist))
        .order_by(Appointment.starts_at, Appointment.id)
    ))


def therapist_sessions(therapist_id: int, first: date, last: date) -> list[Appointment]:
    """A therapist's sessions on school-local dates `first`..`last` (cancelled ones included)."""
    return _sessions(Appointment.therapist_id == therapist_id, Appointment.local_date >= first,
                     Appointment.local_date <= last)


def school_sessions(school_id: int, first: date, last: date) -> list[Appointment]:
    return _sessions(Appointment.school_id == school_id, Appointment.local_date >= first,
                     Appointment.local_date <= last)


def sessions_needing_consent(therapist_id: int, now: datetime) -> list[Appointment]:
    return _sessions(Appointment.therapist_id == therapist_id, Appointment.status == "needs_consent",
                     Appointment.starts_at > now)


def sessions_to_record(therapist_id: int, now: datetime, *, within: timedelta = timedelta(days=14)) -> list[Appointment]:
    """Sessions that have started but have no attendance yet (the last two weeks)."""
    return _sessions(Appointment.therapist_id == therapist_id, Appointment.status.in_(("scheduled", "needs_consent")),
                     Appointment.starts_at <= now, Appointment.starts_at > now - within)


def series_sessions(series_id: int) -> list[Appointment]:
    return _sessions(Appointment.series_id == series_id)


def time_off(therapist_id: int, now: datetime) -> list[TimeOff]:
    return list(db.session.scalars(
        select(TimeOff).where(TimeOff.therapist_id == therapist_id, TimeOff.ends_at > now).order_by(TimeOff.starts_at)
    ))


def calendar_days(school_id: int, since: date) -> list[CalendarDay]:
    return list(db.session.scalars(
        select(CalendarDay).where(CalendarDay.school_id == school_id, CalendarDay.day >= since)
        .options(joinedload(CalendarDay.schedule)).order_by(CalendarDay.day)
    ))


def teacher_contacts(student_id: int) -> list[TeacherContact]:
    return list(db.session.scalars(
        select(TeacherContact).where(TeacherContact.student_id == student_id).order_by(TeacherContact.period_name)
    ))


@dataclass
class ChildSessions:
    student: Student
    sessions: list[Appointment] = field(default_factory=list)


def family_sessions(guardian: User, now: datetime, *, per_child: int = 10) -> list[ChildSessions]:
    """Upcoming sessions of a guardian's children (not through a restricted link), in two queries."""
    links = db.session.scalars(
        select(GuardianLink).where(GuardianLink.guardian_id == guardian.id, GuardianLink.restricted.is_(False))
        .options(joinedload(GuardianLink.student).joinedload(Student.school)).order_by(GuardianLink.id)
    ).all()
    children = {link.student_id: ChildSessions(link.student) for link in links}
    if not children:
        return []
    upcoming = _sessions(Appointment.student_id.in_(list(children)), Appointment.ends_at > now,
                         Appointment.status.in_(("scheduled", "needs_consent", "cancelled")))
    for appointment in upcoming:
        child = children[appointment.student_id]
        if len(child.sessions) < per_child:
            child.sessions.append(appointment)
    return list(children.values())


def reminders_enabled(guardian_id: int) -> bool:
    return bool(db.session.scalar(select(GuardianReminderPreference.enabled).where(
        GuardianReminderPreference.guardian_id == guardian_id)))
