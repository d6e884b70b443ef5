"""School calendars, bell schedules, availability and time off, without HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.scheduling import calendar
from app.scheduling.models import BellPeriod, CalendarDay
from app.scheduling.services import SchedulingError
from tests.integration.scheduling.conftest import MINIMUM_DAY, NOW, VETERANS_DAY, t


def test_which_schedule_applies_on_which_date(world, bells):
    infos = calendar.day_infos(world.school_a.id, date(2026, 10, 26), date(2026, 11, 15))
    assert infos[date(2026, 10, 26)].schedule.name == "Regular day" and infos[date(2026, 10, 26)].school_day
    assert infos[MINIMUM_DAY].schedule.name == "Minimum day" and infos[MINIMUM_DAY].label == "Minimum day"
    assert [p.name for p in infos[MINIMUM_DAY].periods()] == ["Period 1", "Period 2", "Period 3"]
    assert not infos[VETERANS_DAY].school_day and infos[VETERANS_DAY].label == "Veterans Day"
    assert not infos[date(2026, 10, 31)].school_day  # Saturday
    assert infos[VETERANS_DAY].periods() == []
    # Another school's calendar is its own.
    assert calendar.day_info(world.school_b.id, VETERANS_DAY).school_day


def test_next_school_day_skips_weekends_and_holidays(world, bells):
    assert calendar.next_school_day(world.school_a.id, date(2026, 10, 23)) == date(2026, 10, 26)  # Fri -> Mon
    assert calendar.next_school_day(world.school_a.id, date(2026, 11, 10)) == date(2026, 11, 12)  # over Veterans Day


def test_first_schedule_is_the_default_and_names_are_unique_per_school(world, bells):
    assert bells["regular"].is_default and not bells["minimum"].is_default
    with pytest.raises(SchedulingError, match="already has a bell schedule called “Minimum day”"):
        calendar.create_bell_schedule(world.school_admin, world.school_a, " Minimum   day ", now=NOW)
    other = calendar.create_bell_schedule(world.district_admin, world.school_b, "Minimum day", now=NOW)
    assert other.is_default  # the first of school B


def test_periods_are_set_per_weekday_and_changed_in_place(world, bells):
    regular = bells["regular"]
    calendar.set_period(world.school_admin, regular, name="Period 1", weekdays=[2], starts=t("08:30"),
                        ends=t("09:10"), now=NOW)
    wednesday = calendar.day_info(world.school_a.id, date(2026, 10, 21)).period("Period 1")
    tuesday = calendar.day_info(world.school_a.id, date(2026, 10, 20)).period("Period 1")
    assert (wednesday.starts_local, tuesday.starts_local) == (t("08:30"), t("08:00"))
    assert db.session.scalar(select(func.count()).select_from(BellPeriod).where(
        BellPeriod.schedule_id == regular.id, BellPeriod.name == "Period 1")) == 5
    with pytest.raises(SchedulingError, match="end after it starts"):
        calendar.set_period(world.school_admin, regular, name="Late", weekdays=[0], starts=t("10:00"), ends=t("09:00"))
    with pytest.raises(SchedulingError, match="at least one weekday"):
        calendar.set_period(world.school_admin, regular, name="Late", weekdays=[], starts=t("10:00"), ends=t("11:00"))


def test_a_schedule_can_start_as_a_copy(world, bells):
    testing = calendar.create_bell_schedule(world.school_admin, world.school_a, "Testing day",
                                            copy_from=bells["regular"], now=NOW)
    assert len(testing.periods) == len(bells["regular"].periods) == 30


def test_marking_a_range_leaves_weekends_and_reports_booked_sessions(world, bells, book):
    book(first_date=date(2026, 12, 22), start_time=t("10:00"))
    result = calendar.mark_days(world.school_admin, world.school_a, first=date(2026, 12, 21), last=date(2027, 1, 1),
                                kind="no_school", label="Winter break", now=NOW)
    assert result == {"days": 10, "sessions_on_closed_days": 1}
    assert not calendar.day_info(world.school_a.id, date(2026, 12, 22)).school_day
    # Marking the same days again changes them in place rather than duplicating them.
    calendar.mark_days(world.school_admin, world.school_a, first=date(2026, 12, 21), last=date(2026, 12, 21),
                       kind="schedule", schedule=bells["minimum"], label="Assembly", now=NOW)
    assert calendar.day_info(world.school_a.id, date(2026, 12, 21)).schedule.name == "Minimum day"
    assert db.session.scalar(select(func.count()).select_from(CalendarDay).where(
        CalendarDay.day == date(2026, 12, 21))) == 1
    with pytest.raises(SchedulingError, match="last date must not be before"):
        calendar.mark_days(world.school_admin, world.school_a, first=date(2027, 1, 2), last=date(2027, 1, 1),
                           kind="no_school", now=NOW)


def test_the_default_schedule_is_deleted_last(world, bells):
    with pytest.raises(SchedulingError, match="Make another one the default first"):
        calendar.delete_bell_schedule(world.school_admin, bells["regular"], now=NOW)
    calendar.delete_bell_schedule(world.school_admin, bells["minimum"], now=NOW)
    assert calendar.day_info(world.school_a.id, MINIMUM_DAY).schedule.name == "Regular day"  # its day is gone too
    calendar.make_default(world.school_admin, bells["regular"], now=NOW)
    calendar.delete_bell_schedule(world.school_admin, bells["regular"], now=NOW)
    assert calendar.schedules(world.school_a.id) == []


def test_availability_only_at_schools_the_therapist_serves(world):
    with pytest.raises(SchedulingError, match="You do not work at Alpha Middle"):
        calendar.add_availability(world.therapist, world.school_b, weekdays=[0], starts=t("08:00"), ends=t("12:00"))
    windows = calendar.add_availability(world.therapist, world.school_a, weekdays=[0, 2], starts=t("08:00"),
                                        ends=t("12:00"), now=NOW)
    assert [(w.weekday, w.starts_local) for w in windows] == [(0, t("08:00")), (2, t("08:00"))]


def test_time_off_is_read_in_the_therapist_s_home_zone(world):
    whole_day = calendar.add_time_off(world.therapist, first=date(2026, 11, 2), label="Conference", now=NOW)
    assert (whole_day.starts_at, whole_day.ends_at) == (datetime(2026, 11, 2, 8, 0, tzinfo=UTC),
                                                        datetime(2026, 11, 3, 8, 0, tzinfo=UTC))  # PST midnights
    with pytest.raises(SchedulingError, match="end after it starts"):
        calendar.add_time_off(world.therapist, first=date(2026, 11, 2), starts=t("12:00"), ends=t("11:00"), now=NOW)
