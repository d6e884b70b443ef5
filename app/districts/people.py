"""Schools, students and guardian links, edited by administrators. One transaction per call.

Audit details name the fields that changed, never their values: names and languages of minors
do not belong in a log that is exported to spreadsheets.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import available_timezones

from sqlalchemy import select

from app.audit.services import record
from app.auth.models import User
from app.auth.services import normalise_email
from app.db_types import utcnow
from app.districts.models import LANGUAGES, GuardianLink, School, Student
from app.districts.services import AdminError
from app.extensions import db

GRADES = ("PK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")
# Suggestions only: the roster import stores the source system's own words (mother, stepparent...).
RELATIONSHIPS = ("mother", "father", "parent", "guardian", "grandmother", "grandfather", "stepparent", "foster parent",
                 "relative", "other")
US_TIMEZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
                "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico")


def _clean(value: str | None, label: str, max_len: int, *, required: bool = True) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise AdminError(f"Enter the {label}.")
        return None
    if len(value) > max_len:
        raise AdminError(f"The {label} is too long (at most {max_len} characters).")
    return value


def _timezone(value: str) -> str:
    if value not in available_timezones():
        raise AdminError("Choose a time zone from the list.")
    return value


# --- schools ----------------------------------------------------------------------------------


def create_school(actor: User, *, name: str, timezone: str, ip: str | None = None,
                  now: datetime | None = None) -> School:
    name = _clean(name, "school name", 200)
    if db.session.scalar(select(School.id).where(School.district_id == actor.district_id, School.name == name)):
        raise AdminError("Your district already has a school with this name.")
    school = School(district_id=actor.district_id, name=name, timezone=_timezone(timezone), created_at=now or utcnow())
    db.session.add(school)
    db.session.flush()
    record("school.created", actor=actor, target=school, ip=ip, now=now)
    db.session.commit()
    return school


def update_school(actor: User, school: School, *, name: str, timezone: str, ip: str | None = None,
                  now: datetime | None = None) -> list[str]:
    name = _clean(name, "school name", 200)
    timezone = _timezone(timezone)
    clash = db.session.scalar(select(School.id).where(School.district_id == school.district_id, School.name == name,
                                                      School.id != school.id))
    if clash:
        raise AdminError("Your district already has a school with this name.")
    changed = [f for f, v in (("name", name), ("timezone", timezone)) if getattr(school, f) != v]
    school.name, school.timezone = name, timezone
    if changed:
        record("school.updated", actor=actor, target=school, ip=ip, now=now, fields=",".join(changed))
    db.session.commit()
    return changed


# --- students ---------------------------------------------------------------------------------


def update_student(actor: User, student: Student, *, first_name: str, last_name: str, preferred_name: str | None,
                   grade: str, school_id: int, preferred_language: str, active: bool, ip: str | None = None,
                   now: datetime | None = None) -> list[str]:
    """Edit a student's record. A school admin cannot move a student to another school."""
    values = {
        "first_name": _clean(first_name, "first name", 100),
        "last_name": _clean(last_name, "last name", 100),
        "preferred_name": _clean(preferred_name, "preferred name", 100, required=False),
        "grade": grade if grade in GRADES else None,
        "preferred_language": preferred_language if preferred_language in LANGUAGES else None,
        "school_id": school_id,
        "active": bool(active),
    }
    if values["grade"] is None:
        raise AdminError("Choose a grade from the list.")
    if values["preferred_language"] is None:
        raise AdminError("Choose a language from the list.")
    school = db.session.scalar(select(School).where(School.id == school_id, School.district_id == student.district_id))
    if school is None or (actor.role == "school_admin" and school.id != actor.school_id):
        raise AdminError("Choose a school you manage.")
    changed = [field for field, value in values.items() if getattr(student, field) != value]
    for field in changed:
        setattr(student, field, values[field])
    if changed:
        record("student.updated", actor=actor, target=student, student_id=student.id, ip=ip, now=now,
               fields=",".join(changed))
    db.session.commit()
    return changed


# --- guardian links ----------------------------------------------------------------------------


def add_guardian_link(actor: User, student: Student, *, email: str, name: str | None, relationship: str,
                      legal_authority: bool, restricted: bool, ip: str | None = None,
                      now: datetime | None = None) -> GuardianLink:
    """Link a guardian (found by email in the district, or created without a password: they set
    one up through a consent invitation) to a student."""
    now = now or utcnow()
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise AdminError("Enter the guardian's email address.")
    relationship = _clean(relationship, "relationship", 40)
    guardian = db.session.scalar(select(User).where(User.email == email))
    if guardian is not None and (guardian.role != "guardian" or guardian.district_id != student.district_id):
        raise AdminError("This email belongs to an account that cannot be a guardian here.")
    if guardian is None:
        guardian = User(email=email, name=_clean(name, "guardian's name", 200), role="guardian",
                        district_id=student.district_id, password_hash=None, active=True, created_at=now)
        db.session.add(guardian)
        db.session.flush()
        record("guardian.created", actor=actor, target=guardian, ip=ip, now=now)
    elif db.session.scalar(select(GuardianLink.id).where(GuardianLink.guardian_id == guardian.id,
                                                         GuardianLink.student_id == student.id)):
        raise AdminError(f"{guardian.name} is already linked to this student.")
    link = GuardianLink(district_id=student.district_id, guardian_id=guardian.id, student_id=student.id,
                        relationship_label=relationship, legal_authority=bool(legal_authority),
                        restricted=bool(restricted), created_at=now)
    db.session.add(link)
    db.session.flush()
    record("guardian_link.added", actor=actor, target=link, student_id=student.id, ip=ip, now=now,
           guardian_id=guardian.id, legal_authority=link.legal_authority, restricted=link.restricted)
    db.session.commit()
    return link


def update_guardian_link(actor: User, link: GuardianLink, *, relationship: str, legal_authority: bool,
                         restricted: bool, ip: str | None = None, now: datetime | None = None) -> list[str]:
    relationship = _clean(relationship, "relationship", 40)
    values = {"relationship_label": relationship, "legal_authority": bool(legal_authority),
              "restricted": bool(restricted)}
    changed = [f for f, v in values.items() if getattr(link, f) != v]
    for field in changed:
        setattr(link, field, values[field])
    if changed:
        record("guardian_link.updated", actor=actor, target=link, student_id=link.student_id, ip=ip, now=now,
               guardian_id=link.guardian_id, legal_authority=link.legal_authority, restricted=link.restricted)
    db.session.commit()
    return changed


def remove_guardian_link(actor: User, link: GuardianLink, *, ip: str | None = None, now: datetime | None = None) -> None:
    record("guardian_link.removed", actor=actor, target=link, student_id=link.student_id, ip=ip, now=now,
           guardian_id=link.guardian_id)
    db.session.delete(link)
    db.session.commit()
