"""Time arithmetic of scheduling, without a database."""

from datetime import UTC, date, datetime, time

import pytest

from app.scheduling.booking import slot_marks
from app.scheduling.services import (
    SchedulingError,
    add_minutes,
    clock,
    local_instant,
    minutes_between,
    on_slot_grid,
    round_up_to_slot,
)

LA = "America/Los_Angeles"


def test_the_same_wall_clock_time_is_a_different_utc_time_after_the_dst_change():
    assert local_instant(date(2026, 10, 28), time(15, 0), LA) == datetime(2026, 10, 28, 22, 0, tzinfo=UTC)
    assert local_instant(date(2026, 11, 4), time(15, 0), LA) == datetime(2026, 11, 4, 23, 0, tzinfo=UTC)
    assert local_instant(date(2026, 3, 9), time(15, 0), LA) == datetime(2026, 3, 9, 22, 0, tzinfo=UTC)  # PDT again


def test_an_ambiguous_time_is_its_first_occurrence():
    # 1:30 am on 1 November 2026 happens twice in Los Angeles; fold=0 is the first (PDT).
    assert local_instant(date(2026, 11, 1), time(1, 30), LA) == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(("given", "expected"), [
    (time(8, 52), time(8, 55)), (time(8, 55), time(8, 55)), (time(8, 55, 1), time(9, 0)), (time(9, 58), time(10, 0)),
])
def test_periods_round_up_to_the_next_5_minute_mark(given, expected):
    assert round_up_to_slot(given) == expected
    assert on_slot_grid(expected)


def test_a_session_cannot_round_past_midnight():
    with pytest.raises(SchedulingError):
        round_up_to_slot(time(23, 57))


def test_slot_marks_cover_the_session_and_not_its_end():
    start = datetime(2026, 10, 21, 17, 0, tzinfo=UTC)
    marks = slot_marks(start, datetime(2026, 10, 21, 17, 17, tzinfo=UTC))
    assert [m.minute for m in marks] == [0, 5, 10, 15]
    assert slot_marks(start, datetime(2026, 10, 21, 17, 15, tzinfo=UTC))[-1].minute == 10


def test_clock_and_minutes():
    assert clock(time(15, 5)) == "3:05 pm" and clock(time(0, 0)) == "12:00 am" and clock(time(12, 0)) == "12:00 pm"
    assert clock(time(15, 5), "es") == "15:05"
    assert minutes_between(time(9, 52), time(10, 40)) == 48
    assert add_minutes(time(9, 40), 30) == time(10, 10)
