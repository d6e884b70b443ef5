"""Scheduling emails. Guardians read theirs in their language; staff and teachers in English.

Minimum necessary: no email names a diagnosis, a note or why a student sees a therapist.
Teacher notices do not even say what kind of meeting it is. Sent after the change commits.
"""

from __future__ import annotations

from datetime import date

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from app.auth.models import User
from app.districts.models import Student
from app.notifications.services import send_email
from app.scheduling.models import Appointment
from app.scheduling.services import clock, day_label, to_local
from app.web import external_url


def _lang(user: User) -> str:
    return user.preferred_language if user.preferred_language in current_app.config["LANGUAGES"] else "en"


def session_when(appointment: Appointment, lang: str) -> dict:
    """Date and times of a session at its school, for people."""
    tz = appointment.school.timezone
    return {
        "day": day_label(appointment.local_date, lang, "full"),
        "start": clock(to_local(appointment.starts_at, tz), lang),
        "end": clock(to_local(appointment.ends_at, tz), lang),
    }


def send_guardian_reminder(appointment: Appointment, guardian: User) -> None:
    lang = _lang(guardian)
    with force_locale(lang):
        subject = _("Reminder: %(child)s has a session soon", child=appointment.student.display_name)
        body = render_template("scheduling/email/guardian_reminder.txt", guardian=guardian, appointment=appointment,
                               when=session_when(appointment, lang), link=external_url("scheduling.family"))
    send_email(guardian.email, subject, body)


def tell_guardians_consent_needed(student: Student, appointments: list[Appointment], guardians: list[User]) -> None:
    """Video sessions that cannot happen by video any more, because consent was withdrawn or ended."""
    for guardian in guardians:
        lang = _lang(guardian)
        with force_locale(lang):
            subject = _("Video sessions for %(child)s are on hold", child=student.display_name)
            body = render_template("scheduling/email/needs_consent.txt", guardian=guardian, student=student,
                                   sessions=[session_when(a, lang) for a in appointments],
                                   link=external_url("scheduling.family"))
        send_email(guardian.email, subject, body)


def send_therapist_agenda(therapist: User, day: date, appointments: list[Appointment]) -> None:
    rows = [{"when": session_when(a, "en"), "appointment": a} for a in appointments]
    body = render_template("scheduling/email/agenda.txt", therapist=therapist, day=day_label(day, "en", "full"),
                           rows=rows, link=external_url("scheduling.day", date=day.isoformat()))
    send_email(therapist.email, f"Your Homeroom sessions for {day_label(day, 'en', 'EEEE d MMMM')}", body)


def send_teacher_notice(email: str, appointment: Appointment, periods: list[str]) -> None:
    when = session_when(appointment, "en")
    body = render_template("scheduling/email/teacher_notice.txt", appointment=appointment, when=when,
                           periods=periods, student=appointment.student, school=appointment.school)
    send_email(email, f"{appointment.student.display_name} will be out of class on {when['day']}", body)
