"""District administration: caseload assignment (one by one and in bulk)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select, text

from app.audit.services import record
from app.auth.models import User
from app.db_types import utcnow
from app.districts.models import CaseloadAssignment, Student
from app.extensions import db


def refresh_statistics(tables: list[str]) -> None:
    """Give the query planner fresh statistics after a bulk load (call after the commit).

    PostgreSQL plans with statistics that autovacuum updates only some time after a bulk insert:
    right after `seed-load` or a large roster import a dashboard planned on empty-table estimates
    was measured 50-100 x slower. SQLite has no statistics until ANALYZE runs; `PRAGMA optimize`
    keeps them current afterwards.
    """
    bind = db.session.get_bind()
    if bind.dialect.name == "postgresql":
        for table in tables:  # names come from our own models, never from input
            db.session.execute(text(f'ANALYZE "{table}"'))
    else:
        db.session.execute(text("ANALYZE"))
        db.session.execute(text("PRAGMA optimize"))
    db.session.commit()


class AdminError(ValueError):
    """A refused administrative change, with a message meant for the person."""


def assign_caseload(actor: User, students: list[Student], therapist: User | None, *, on: date | None = None,
                    ip: str | None = None, now: datetime | None = None) -> dict:
    """Assign each student to `therapist` from `on` (or unassign, with therapist=None).

    A current assignment to someone else is closed the day before, so the history shows who
    had the student when; assigning a student to the therapist they already have changes nothing.
    """
    now = now or utcnow()
    on = on or now.date()
    if therapist is not None:
        if therapist.role != "therapist" or not therapist.active or therapist.district_id != actor.district_id:
            raise AdminError("Choose an active therapist of your district.")
        served = {s.id for s in therapist.schools}
        outside = [s for s in students if s.school_id not in served]
        if outside:
            raise AdminError(f"{therapist.name} does not serve the school of: "
                             + ", ".join(s.display_name for s in outside[:5]) + ("…" if len(outside) > 5 else ""))
    ids = [s.id for s in students]
    current = {
        a.student_id: a
        for a in db.session.scalars(
            select(CaseloadAssignment).where(
                CaseloadAssignment.student_id.in_(ids),
                CaseloadAssignment.starts_on <= on,
                CaseloadAssignment.ends_on.is_(None) | (CaseloadAssignment.ends_on >= on),
            )
        )
    }
    changed = unchanged = 0
    for student in students:
        existing = current.get(student.id)
        if existing is not None and therapist is not None and existing.therapist_id == therapist.id:
            unchanged += 1
            continue
        if existing is None and therapist is None:
            unchanged += 1
            continue
        if existing is not None:
            existing.ends_on = on - timedelta(days=1)
        if therapist is not None:
            db.session.add(CaseloadAssignment(district_id=student.district_id, therapist_id=therapist.id,
                                              student_id=student.id, starts_on=on, assigned_by_id=actor.id,
                                              created_at=now))
        record("caseload.assigned" if therapist else "caseload.unassigned", actor=actor, target=student,
               student_id=student.id, ip=ip, now=now, therapist_id=therapist.id if therapist else None)
        changed += 1
    db.session.commit()
    return {"changed": changed, "unchanged": unchanged}
