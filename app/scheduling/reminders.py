"""The scheduling cron jobs: guardian reminders, therapist agendas and teacher pull-out notices.

Each message is claimed before it is sent: a SentNotice row whose (kind, ref, recipient) is
UNIQUE is committed first, and only the run that committed it sends. Two overlapping cron runs,
or a rerun after a crash, never send the same message twice (at worst a crash right after the
claim loses one message, which is better than duplicates for reminders). `ref` names the
session and its start time, so a session that is moved gets a new reminder and notice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.auth.models import User
from app.districts.models import GuardianLink, Student
from app.extensions import db
from app.scheduling import calendar, notify
from app.scheduling.booking import flag_sessions_without_consent
from app.scheduling.models import (
    OPEN_STATUSES,
    Appointment,
    GuardianReminderPreference,
    SentNotice,
    TeacherContact,
)
from app.scheduling.services import local_today, to_local


def claim(kind: str, ref: str, recipient: str, district_id: int, now: datetime) -> bool:
    """Record a message as sent before sending it. False if some run already claimed it."""
    db.session.add(SentNotice(district_id=district_id, kind=kind, ref=ref, recipient=recipient, sent_at=now))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def _ref(appointment: Appointment) -> str:
    return f"{appointment.id}@{appointment.starts_at:%Y%m%dT%H%MZ}"


# --- guardians ------------------------------------------------------------------------------------


def due_guardian_reminders(now: datetime, ahead: timedelta) -> list[tuple[Appointment, User]]:
    """(session, guardian) for sessions starting within `ahead` whose guardians opted in."""
    rows = db.session.execute(
        select(Appointment, User)
        .join(GuardianLink, GuardianLink.student_id == Appointment.student_id)
        .join(User, User.id == GuardianLink.guardian_id)
        .join(GuardianReminderPreference, GuardianReminderPreference.guardian_id == User.id)
        .where(Appointment.status == "scheduled", Appointment.starts_at > now, Appointment.starts_at <= now + ahead,
               GuardianLink.restricted.is_(False), GuardianReminderPreference.enabled.is_(True),
               User.active.is_(True))
        .options(joinedload(Appointment.student), joinedload(Appointment.school))
        .order_by(Appointment.starts_at, User.id)
    ).all()
    return [(appointment, guardian) for appointment, guardian in rows]


def send_guardian_reminders(now: datetime, ahead: timedelta) -> int:
    sent = 0
    for appointment, guardian in due_guardian_reminders(now, ahead):
        if claim("guardian_24h", _ref(appointment), f"user:{guardian.id}", appointment.district_id, now):
            notify.send_guardian_reminder(appointment, guardian)
            sent += 1
    return sent


def flag_and_tell(now: datetime, student_id: int | None = None) -> list[Appointment]:
    """Flag telehealth sessions without video consent and tell each student's guardians once."""
    from app.consent.services import legal_guardians

    flagged = flag_sessions_without_consent(now=now, student_id=student_id)
    by_student: dict[int, list[Appointment]] = defaultdict(list)
    for appointment in flagged:
        by_student[appointment.student_id].append(appointment)
    for sid, appointments in by_student.items():
        student = db.session.get(Student, sid)
        notify.tell_guardians_consent_needed(student, appointments, legal_guardians(student))
    return flagged


# --- therapists -----------------------------------------------------------------------------------


def send_therapist_agendas(now: datetime, from_hour: int) -> int:
    """Each therapist's sessions of their day, once per day, from `from_hour` (school local time)."""
    candidates = db.session.scalars(
        select(Appointment)
        .where(Appointment.status.in_(OPEN_STATUSES), Appointment.starts_at >= now - timedelta(days=1),
               Appointment.starts_at < now + timedelta(days=2))
        .options(joinedload(Appointment.school), joinedload(Appointment.student), joinedload(Appointment.therapist))
        .order_by(Appointment.starts_at)
    ).all()
    days: dict[tuple[int, date], list[Appointment]] = defaultdict(list)
    for appointment in candidates:
        local_now = to_local(now, appointment.school.timezone)
        if appointment.local_date == local_now.date() and local_now.hour >= from_hour:
            days[(appointment.therapist_id, appointment.local_date)].append(appointment)
    sent = 0
    for (therapist_id, day), appointments in sorted(days.items()):
        therapist = appointments[0].therapist
        if not therapist.active:
            continue
        if claim("therapist_agenda", day.isoformat(), f"user:{therapist_id}", therapist.district_id, now):
            notify.send_therapist_agenda(therapist, day, appointments)
            sent += 1
    return sent


# --- teachers -------------------------------------------------------------------------------------


def send_teacher_notices(now: datetime) -> int:
    """Tell each listed teacher, on the school day before, that a student will leave their class.

    The periods a session overlaps are read from that day's bell schedule, so a session booked
    by time of day reaches the teachers of every period it touches.
    """
    candidates = db.session.scalars(
        select(Appointment)
        .where(Appointment.status == "scheduled", Appointment.starts_at > now,
               Appointment.starts_at < now + timedelta(days=8))
        .options(joinedload(Appointment.school), joinedload(Appointment.student))
        .order_by(Appointment.starts_at)
    ).all()
    next_day_cache: dict[tuple[int, date], date | None] = {}
    info_cache: dict[tuple[int, date], calendar.DayInfo] = {}
    sent = 0
    for appointment in candidates:
        school = appointment.school
        today = local_today(now, school.timezone)
        key = (school.id, today)
        if key not in next_day_cache:
            next_day_cache[key] = calendar.next_school_day(school.id, today)
        if next_day_cache[key] != appointment.local_date:
            continue
        day_key = (school.id, appointment.local_date)
        if day_key not in info_cache:
            info_cache[day_key] = calendar.day_info(school.id, appointment.local_date)
        start = to_local(appointment.starts_at, school.timezone).time()
        end = to_local(appointment.ends_at, school.timezone).time()
        touched = [p.name for p in info_cache[day_key].periods() if p.starts_local < end and start < p.ends_local]
        if appointment.period_name and appointment.period_name not in touched:
            touched.append(appointment.period_name)
        if not touched:
            continue
        contacts = db.session.scalars(select(TeacherContact).where(
            TeacherContact.student_id == appointment.student_id, TeacherContact.period_name.in_(touched))).all()
        by_email: dict[str, list[str]] = defaultdict(list)
        for contact in contacts:
            by_email[contact.teacher_email.lower()].append(contact.period_name)
        for email, periods in sorted(by_email.items()):
            if claim("teacher_notice", _ref(appointment), email, appointment.district_id, now):
                notify.send_teacher_notice(email, appointment, periods)
                sent += 1
    return sent
