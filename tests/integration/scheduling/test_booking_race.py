"""Two bookings of overlapping slots at the same moment: exactly one succeeds.

Each booking runs in its own thread with its own app context, so its own database session and
connection, as two server requests would. A barrier placed right after the conflict check makes
the race certain rather than likely: both bookings have checked and found the slot free before
either writes, so only the database (the UNIQUE slot claims) can refuse the second. The suite
runs these on SQLite and, with DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.auth.models import User
from app.districts.models import Student
from app.extensions import db
from app.scheduling import booking, calendar
from app.scheduling.booking import BookingConflict
from app.scheduling.models import Appointment, SlotClaim
from tests.integration.scheduling.conftest import NOW, t

DAY = date(2026, 10, 21)


def _race(app, monkeypatch, bookings: list[dict]) -> tuple[list, list[bool]]:
    """Run the bookings concurrently; returns each one's result and whether its check found it free."""
    barrier = threading.Barrier(len(bookings), timeout=20)
    checked_free: list[bool] = [False] * len(bookings)
    local = threading.local()
    real_check = booking.find_conflicts

    def check_then_wait(occurrences, **kw):
        advice = real_check(occurrences, **kw)
        if not getattr(local, "waited", False):  # the first check of this booking, not the loser's re-check
            local.waited = True
            checked_free[local.index] = not any(o.problems for o in occurrences)
            barrier.wait()
        return advice

    monkeypatch.setattr(booking, "find_conflicts", check_then_wait)
    results: list = [None] * len(bookings)

    def run(index: int, spec: dict) -> None:
        local.index = index
        with app.app_context():
            try:
                therapist = db.session.get(User, spec["therapist_id"])
                student = db.session.get(Student, spec["student_id"])
                result = booking.book(therapist, student, first_date=DAY, start_time=spec["start"],
                                      duration_minutes=30, modality="in_person", now=NOW)
                results[index] = result.appointments[0].id
            except Exception as exc:  # noqa: BLE001 - the test inspects whatever happened
                results[index] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, spec)) for i, spec in enumerate(bookings)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a booking hung"
    return results, checked_free


@pytest.fixture
def colleague(world, make_user, assign, bells, available):
    """A second therapist at school A who also has the own student, available on Wednesdays."""
    other = make_user("therapist", world.district, schools=[world.school_a])
    assign(other, world.own_student)
    calendar.add_availability(other, world.school_a, weekdays=[2], starts=t("08:00"), ends=t("16:00"), now=NOW)
    return other


@pytest.mark.parametrize("case", ["same_slot_twice", "therapist_double_booked", "student_double_booked"])
def test_concurrent_bookings_of_the_same_time_cannot_both_succeed(app, world, make_student, colleague, monkeypatch,
                                                                  case):
    second_student = make_student(world.school_a, first_name="Second", last_name="Kid")
    first = {"therapist_id": world.therapist.id, "student_id": world.own_student.id, "start": t("10:00")}
    second = {
        "same_slot_twice": dict(first),
        # Same therapist, another student, overlapping by ten minutes.
        "therapist_double_booked": {**first, "student_id": second_student.id, "start": t("10:20")},
        # Same student, another therapist, overlapping by twenty minutes.
        "student_double_booked": {**first, "therapist_id": colleague.id, "start": t("09:50")},
    }[case]
    results, checked_free = _race(app, monkeypatch, [first, second])

    dialect = db.engine.dialect.name
    assert checked_free == [True, True], f"both bookings must pass the conflict check first ({dialect})"
    booked = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, BookingConflict)]
    assert len(booked) == 1 and len(refused) == 1, f"{dialect}: {results!r}"
    # The loser is told why, exactly as if it had come second.
    message = " ".join(refused[0].conflicts)
    expected = {
        "same_slot_twice": "you already have a session with OS",
        "therapist_double_booked": "you already have a session with",
        "student_double_booked": "Own Student already has a session with",
    }[case]
    assert expected in message, message
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == 1
    winner = db.session.get(Appointment, booked[0])
    claims = db.session.scalar(select(func.count()).select_from(SlotClaim).where(SlotClaim.appointment_id == winner.id))
    assert claims == 12


def test_the_database_itself_refuses_a_second_claim_on_a_slot(world, book):
    [appointment] = book(first_date=DAY).appointments
    db.session.add(SlotClaim(appointment_id=appointment.id, kind="therapist", resource_id=world.therapist.id,
                             slot_start=datetime(2026, 10, 21, 17, 10, tzinfo=UTC)))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
