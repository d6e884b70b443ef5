"""Scale: every list page and dashboard uses the same number of SQL statements in a small and a
larger generated district, and `flask seed-load` makes a district of the requested size."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, func, select

from app.auth.models import User
from app.districts.loadgen import generate
from app.districts.models import CaseloadAssignment, District, GuardianLink, School, Student
from app.extensions import db
from app.scheduling.models import Appointment
from tests.conftest import PASSWORD_HASH, login


@contextmanager
def counting(engine):
    statements: list[str] = []

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)


def _pages(district: District) -> dict[str, str]:
    """Each list page and dashboard, for one district's objects (a student with guardians and history)."""
    school = db.session.scalar(select(School).where(School.district_id == district.id).order_by(School.id))
    student = db.session.scalar(
        select(Student).join(CaseloadAssignment, CaseloadAssignment.student_id == Student.id)
        .join(GuardianLink, GuardianLink.student_id == Student.id)
        .where(Student.district_id == district.id).order_by(Student.id).limit(1))
    return {
        "students": "/students",
        "students page 2": "/students?page=2",
        "students of a school": f"/students?school={school.id}",
        "staff": "/staff",
        "caseloads (unassigned)": "/caseloads",
        "caseloads (all)": "/caseloads?show=all",
        "student record (guardian links, history)": f"/students/{student.id}",
        "audit log": "/audit/",
        "schools": "/schools",
        "district dashboard": "/dashboard",
        "district dashboard CSV": "/dashboard/sessions.csv",
        "school dashboard": f"/dashboard/schools/{school.id}",
        "school dashboard CSV": f"/dashboard/schools/{school.id}/consent.csv",
        "home": "/home",
    }


def _counts(app, result) -> dict[str, int]:
    client = app.test_client()
    assert login(client, result.admin_email).status_code == 302
    counts = {}
    for label, path in _pages(result.district).items():
        client.get(path)  # warm: the first request of a kind may load lazily cached things
        with counting(db.engine) as statements:
            response = client.get(path)
        assert response.status_code == 200, (label, response.status_code)
        counts[label] = len(statements)
    return counts


def test_district_admin_pages_use_as_many_queries_for_a_large_district_as_a_small_one(app):
    small = generate(120, name="Small District", seed=1, password_hash=PASSWORD_HASH)
    large = generate(1_500, name="Large District", seed=2, password_hash=PASSWORD_HASH)
    assert large.counts["students"] >= 10 * small.counts["students"]
    small_counts, large_counts = _counts(app, small), _counts(app, large)
    assert small_counts == large_counts
    assert max(large_counts.values()) < 40, large_counts


def test_seed_load_makes_the_requested_number_of_students(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-load", "--students", "300"])
    assert result.exit_code == 0, result.output
    district = db.session.scalar(select(District).where(District.name.like("Load District%")))
    assert db.session.scalar(select(func.count()).select_from(Student).where(Student.district_id == district.id)) == 300
    roles = dict(db.session.execute(select(User.role, func.count()).where(User.district_id == district.id)
                                    .group_by(User.role)).all())
    assert roles["district_admin"] == 1 and roles["school_admin"] >= 2 and roles["therapist"] >= 2
    assert roles["guardian"] >= 300
    assert db.session.scalar(select(func.count()).select_from(Appointment).where(
        Appointment.district_id == district.id)) > 0
    statuses = set(db.session.scalars(select(Appointment.attendance).where(Appointment.district_id == district.id)))
    assert {"attended", "no_show"} <= statuses and any(s.startswith("cancelled_") for s in statuses)
    assert "students: 300" in result.output


def test_generated_district_has_consent_in_every_state(app):
    from datetime import timedelta

    from app.consent.queries import consent_statuses
    from app.db_types import utcnow

    result = generate(400, name="Consent Mix", seed=3, password_hash=PASSWORD_HASH)
    ids = list(db.session.scalars(select(Student.id).where(Student.district_id == result.district.id)))
    now = utcnow()
    statuses = consent_statuses(ids, now)
    states = {s.state for s in statuses.values()}
    assert states == {"active", "pending", "missing"}
    assert any(s.expiring for s in statuses.values())
    assert all(s.expires_at is None or s.expires_at > now - timedelta(days=1) for s in statuses.values())
