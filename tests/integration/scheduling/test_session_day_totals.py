"""The per-day session totals behind the district dashboard equal a direct count of the
appointments after every kind of change, and never mix districts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from app.districts import dashboards, rollups
from app.extensions import db
from app.scheduling import booking
from app.scheduling.models import Appointment
from tests.integration.scheduling.conftest import NOW, t


def _assert_totals_match() -> dict:
    db.session.expire_all()
    stored, direct = rollups.stored_totals(), rollups.direct_totals()
    assert stored == direct
    return stored


def _past_session(world, therapist, student, day: date, minutes: int = 30) -> Appointment:
    begins = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=17)
    row = Appointment(district_id=student.district_id, school_id=student.school_id, therapist_id=therapist.id,
                      student_id=student.id, starts_at=begins, ends_at=begins + timedelta(minutes=minutes),
                      local_date=day, modality="in_person", status="scheduled", created_by_id=therapist.id)
    db.session.add(row)
    db.session.commit()
    return row


def test_totals_follow_bookings_reschedules_and_cancellations(world, book):
    result = book(first_date=date(2026, 10, 21), start_time=t("10:05"), duration_minutes=30, repeat="weekly",
                  occurrences=4)
    totals = _assert_totals_match()
    assert sum(v[0] for v in totals.values()) == 4
    assert sum(v[4] for v in totals.values()) == 4 * 30  # minutes planned
    first, second = result.appointments[:2]
    booking.reschedule(world.therapist, second, new_date=date(2026, 10, 29), start_time=t("14:00"),
                       duration_minutes=45, reason="Testing day", now=NOW)
    totals = _assert_totals_match()
    key = (world.district.id, world.school_a.id, date(2026, 10, 29))
    assert totals[key][0] == 1 and totals[key][4] == 45
    assert not any(k[2] == date(2026, 10, 28) for k in totals)  # the old day no longer counts it
    booking.cancel(world.therapist, first, party="guardian", reason="Family trip", now=NOW)
    totals = _assert_totals_match()
    day = totals[(world.district.id, world.school_a.id, date(2026, 10, 21))]
    assert day == (1, 0, 0, 1, 0, 0)  # still scheduled in the range, cancelled, no minutes planned


def test_totals_follow_attendance_and_its_corrections(world, book):
    appointment = book(first_date=date(2026, 10, 21), start_time=t("10:05"), duration_minutes=30).appointments[0]
    later = NOW + timedelta(days=2)
    booking.record_attendance(world.therapist, appointment, attendance="attended", minutes_delivered=25, now=later)
    key = (world.district.id, world.school_a.id, date(2026, 10, 21))
    assert _assert_totals_match()[key] == (1, 1, 0, 0, 30, 25)
    booking.record_attendance(world.therapist, appointment, attendance="no_show", minutes_delivered=None, now=later)
    assert _assert_totals_match()[key] == (1, 0, 1, 0, 30, 0)
    booking.record_attendance(world.therapist, appointment, attendance="cancelled_school", minutes_delivered=None,
                              now=later)
    assert _assert_totals_match()[key] == (1, 0, 0, 1, 0, 0)
    booking.record_attendance(world.therapist, appointment, attendance="attended", minutes_delivered=30, now=later)
    assert _assert_totals_match()[key] == (1, 1, 0, 0, 30, 30)


def test_totals_follow_changes_made_directly_and_deletions(world):
    row = _past_session(world, world.therapist, world.own_student, date(2026, 9, 8))
    other = _past_session(world, world.other_therapist, world.school_b_student, date(2026, 9, 8))
    _assert_totals_match()
    row = db.session.get(Appointment, row.id)
    row.local_date = date(2026, 9, 9)  # a change to an expired object: the old values come from the database
    db.session.commit()
    _assert_totals_match()
    db.session.delete(db.session.get(Appointment, other.id))
    db.session.commit()
    totals = _assert_totals_match()
    assert (world.district.id, world.school_b.id, date(2026, 9, 8)) not in totals


def test_a_failed_transaction_leaves_the_totals_as_they_were(world):
    _past_session(world, world.therapist, world.own_student, date(2026, 9, 8))
    before = _assert_totals_match()
    _past_session_uncommitted = Appointment(
        district_id=world.district.id, school_id=world.school_a.id, therapist_id=world.therapist.id,
        student_id=world.own_student.id, starts_at=NOW, ends_at=NOW + timedelta(minutes=30),
        local_date=date(2026, 10, 20), modality="in_person", status="scheduled", created_by_id=world.therapist.id)
    db.session.add(_past_session_uncommitted)
    db.session.flush()
    db.session.rollback()
    assert _assert_totals_match() == before


def test_totals_never_mix_districts(world):
    _past_session(world, world.therapist, world.own_student, date(2026, 9, 8))
    _past_session(world, world.foreign_therapist, world.foreign_student, date(2026, 9, 8))
    _past_session(world, world.foreign_therapist, world.foreign_student, date(2026, 9, 8))
    totals = _assert_totals_match()
    mine = rollups.stored_totals(world.district.id)
    theirs = rollups.stored_totals(world.foreign_student.district_id)
    assert set(mine) | set(theirs) == set(totals) and not set(mine) & set(theirs)
    assert sum(v[0] for v in mine.values()) == 1 and sum(v[0] for v in theirs.values()) == 2
    board = dashboards.build(world.district, start=date(2026, 9, 1), end=date(2026, 9, 30), now=NOW)
    assert board.table("sessions").totals()["scheduled"] == 1


def test_rebuild_restores_totals_written_around_the_orm(world):
    from sqlalchemy import insert

    _past_session(world, world.therapist, world.own_student, date(2026, 9, 8))
    begins = datetime(2026, 9, 10, 17, tzinfo=UTC)
    db.session.execute(insert(Appointment), [{
        "district_id": world.district.id, "school_id": world.school_a.id, "therapist_id": world.therapist.id,
        "student_id": world.own_student.id, "starts_at": begins, "ends_at": begins + timedelta(minutes=30),
        "local_date": date(2026, 9, 10), "modality": "in_person", "status": "completed", "attendance": "attended",
        "minutes_delivered": 30, "created_by_id": world.therapist.id, "created_at": begins, "updated_at": begins}])
    db.session.commit()
    assert rollups.stored_totals() != rollups.direct_totals()  # a bulk Core insert bypasses the listener
    rollups.rebuild(world.district.id)
    db.session.commit()
    _assert_totals_match()
    assert db.session.scalar(select(rollups.SessionDayTotal.scheduled).where(
        rollups.SessionDayTotal.local_date == date(2026, 9, 10))) == 1


def test_the_repair_command_rebuilds_totals_written_around_the_orm(app, world):
    from sqlalchemy import update

    _past_session(world, world.therapist, world.own_student, date(2026, 9, 8))
    db.session.execute(update(rollups.SessionDayTotal).values(scheduled=99))  # a damaged totals table
    db.session.commit()
    assert rollups.stored_totals() != rollups.direct_totals()
    result = app.test_cli_runner().invoke(args=["rebuild-dashboard-totals", "--district", str(world.district.id)])
    assert result.exit_code == 0, result.output
    assert "per-day session total rows" in result.output
    _assert_totals_match()
