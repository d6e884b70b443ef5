"""Who hears about sessions: teachers per student and class period, and guardians who opt in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.audit.services import record
from app.auth.models import User
from app.db_types import utcnow
from app.districts.models import Student
from app.extensions import db
from app.scheduling.models import GuardianReminderPreference, TeacherContact
from app.scheduling.services import SchedulingError


def set_teacher_contact(actor: User, student: Student, *, period_name: str, email: str, ip: str | None = None,
                        now: datetime | None = None) -> TeacherContact:
    """The teacher of `period_name` for `student` (one per period; a new email replaces the old)."""
    now = now or utcnow()
    email = (email or "").strip().lower()
    period_name = " ".join((period_name or "").split())
    if not period_name or "@" not in email:
        raise SchedulingError("Choose a period and enter the teacher's email.")
    contact = db.session.scalar(select(TeacherContact).where(TeacherContact.student_id == student.id,
                                                             TeacherContact.period_name == period_name))
    if contact is None:
        contact = TeacherContact(district_id=student.district_id, student_id=student.id, period_name=period_name,
                                 created_by_id=actor.id, created_at=now)
        db.session.add(contact)
    contact.teacher_email = email
    db.session.flush()
    record("schedule.teacher_contact_set", actor=actor, target=contact, student_id=student.id, ip=ip, now=now,
           period=period_name)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise SchedulingError("Someone saved a teacher for this period at the same moment. Reload the page.") from None
    return contact


def delete_teacher_contact(actor: User, contact: TeacherContact, *, ip: str | None = None,
                           now: datetime | None = None) -> None:
    record("schedule.teacher_contact_removed", actor=actor, target=contact, student_id=contact.student_id, ip=ip,
           now=now or utcnow(), period=contact.period_name)
    db.session.delete(contact)
    db.session.commit()


def set_reminder_preference(guardian: User, enabled: bool, *, ip: str | None = None,
                            now: datetime | None = None) -> GuardianReminderPreference:
    """Opt a guardian in to (or out of) session reminders for all their children."""
    now = now or utcnow()
    pref = db.session.scalar(select(GuardianReminderPreference).where(
        GuardianReminderPreference.guardian_id == guardian.id))
    if pref is None:
        pref = GuardianReminderPreference(district_id=guardian.district_id, guardian_id=guardian.id)
        db.session.add(pref)
    pref.enabled, pref.updated_at = bool(enabled), now
    record("schedule.reminders_on" if enabled else "schedule.reminders_off", actor=guardian, ip=ip, now=now)
    try:
        db.session.commit()
    except IntegrityError:  # a double click: the other request saved the same choice
        db.session.rollback()
    return pref
