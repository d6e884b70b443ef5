"""Scheduling services, split by subject (each module is one kind of change):

* `calendar.py`   bell schedules, school calendar days, therapist availability and time off
* `booking.py`    booking (single and recurring), conflicts, moving, cancelling, attendance
* `reminders.py`  guardian reminders, therapist agendas, teacher pull-out notices (cron)
* `feeds.py`      private iCal feeds
* `subscribers.py` what scheduling does when consent is revoked

This module holds what they share: the error type and time-zone arithmetic. As everywhere in
Homeroom, public service functions take explicit arguments (`actor`, objects, `now`, `ip`),
never read the request, and are one transaction each; authorization is the caller's job.

Time: instants are stored in UTC. A school's times of day (bell periods, availability, a
booking's "3:00 pm") are wall-clock times in the school's zone and become UTC only for a
given date, so a weekly 3:00 pm session stays at 3:00 pm local across a daylight-saving change
(its UTC time moves by an hour instead).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.scheduling.models import SLOT_MINUTES


class SchedulingError(ValueError):
    """A refused scheduling operation, with a message meant for the person."""


def zone(tz_name: str) -> ZoneInfo:
    return ZoneInfo(tz_name)


def local_instant(day: date, at: time, tz_name: str) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `tz_name`.

    A time skipped by a spring-forward change resolves with the offset before the change, and
    a repeated time (fall back) to its first occurrence (PEP 495 fold=0); school hours never
    fall in those night-time gaps.
    """
    return datetime.combine(day, at, tzinfo=zone(tz_name)).astimezone(UTC)


def to_local(instant: datetime, tz_name: str) -> datetime:
    return instant.astimezone(zone(tz_name))


def local_today(now: datetime, tz_name: str) -> date:
    return to_local(now, tz_name).date()


def on_slot_grid(at: time) -> bool:
    return at.second == 0 and at.microsecond == 0 and at.minute % SLOT_MINUTES == 0


def round_up_to_slot(at: time) -> time:
    """The first 5-minute mark at or after `at` (a period starting 8:52 gives 8:55)."""
    minutes = at.hour * 60 + at.minute + (1 if (at.second or at.microsecond) else 0)
    minutes = -(-minutes // SLOT_MINUTES) * SLOT_MINUTES
    if minutes >= 24 * 60:
        raise SchedulingError("A session cannot start at midnight or later.")
    return time(minutes // 60, minutes % 60)


def minutes_between(start: time, end: time) -> int:
    return (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)


def add_minutes(at: time, minutes: int) -> time:
    moment = datetime.combine(date(2000, 1, 1), at) + timedelta(minutes=minutes)
    return moment.time()


def clock(at: time | datetime, lang: str = "en") -> str:
    """A time of day for people: "3:05 pm" in English, "15:05" in Spanish."""
    if lang == "en":
        return f"{(at.hour % 12) or 12}:{at.minute:02d} {'am' if at.hour < 12 else 'pm'}"
    return f"{at.hour:02d}:{at.minute:02d}"


def day_label(day: date, lang: str = "en", fmt: str = "EEE d MMM y") -> str:
    """A date for people, in their language ("Tue 3 Nov 2026", "mar 3 nov 2026")."""
    from babel.dates import format_date

    return format_date(day, fmt, locale=lang)
