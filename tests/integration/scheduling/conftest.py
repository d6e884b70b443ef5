"""Scheduling fixtures: a bell schedule for the world's first school, availability, and `book`.

Dates: NOW is Tuesday 20 October 2026, 10:00 in Los Angeles (PDT, UTC-7). Daylight saving
time ends there on Sunday 1 November 2026 (PST, UTC-8), and 11 November is a holiday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from app.scheduling import booking, calendar

NOW = datetime(2026, 10, 20, 17, 0, tzinfo=UTC)
REGULAR = [("Period 1", "08:00", "08:50"), ("Period 2", "08:55", "09:45"), ("Period 3", "09:52", "10:40"),
           ("Period 4", "10:45", "11:35"), ("Period 5", "12:20", "13:10"), ("Period 6", "13:15", "14:05")]
MINIMUM = [("Period 1", "08:00", "08:30"), ("Period 2", "08:35", "09:05"), ("Period 3", "09:10", "09:40")]
VETERANS_DAY = date(2026, 11, 11)
MINIMUM_DAY = date(2026, 10, 28)


def t(text: str) -> time:
    return time.fromisoformat(text)


@pytest.fixture
def bells(world):
    """School A: "Regular day" (default, odd period 3 start) and "Minimum day" on 28 October;
    no school on Veterans Day."""
    admin = world.school_admin
    regular = calendar.create_bell_schedule(admin, world.school_a, "Regular day", now=NOW)
    for name, start, end in REGULAR:
        calendar.set_period(admin, regular, name=name, weekdays=[0, 1, 2, 3, 4], starts=t(start), ends=t(end), now=NOW)
    minimum = calendar.create_bell_schedule(admin, world.school_a, "Minimum day", now=NOW)
    for name, start, end in MINIMUM:
        calendar.set_period(admin, minimum, name=name, weekdays=[0, 1, 2, 3, 4], starts=t(start), ends=t(end), now=NOW)
    calendar.mark_days(admin, world.school_a, first=VETERANS_DAY, last=None, kind="no_school", label="Veterans Day",
                       now=NOW)
    calendar.mark_days(admin, world.school_a, first=MINIMUM_DAY, last=None, kind="schedule", schedule=minimum,
                       label="Minimum day", now=NOW)
    return {"regular": regular, "minimum": minimum}


@pytest.fixture
def available(world):
    """The therapist takes sessions at school A, Monday to Friday, 8:00 to 16:00."""
    calendar.add_availability(world.therapist, world.school_a, weekdays=[0, 1, 2, 3, 4], starts=t("08:00"),
                              ends=t("16:00"), now=NOW)
    return world.therapist


@pytest.fixture
def book(world, bells, available):
    """book(**kw): the therapist books for the own student (in person, 30 minutes, at NOW)."""

    def do(**kw):
        kw.setdefault("modality", "in_person")
        if "period_name" not in kw:
            kw.setdefault("start_time", t("10:00"))
            kw.setdefault("duration_minutes", 30)
        return booking.book(kw.pop("actor", world.therapist), kw.pop("student", world.own_student),
                            now=kw.pop("now", NOW), **kw)

    return do
