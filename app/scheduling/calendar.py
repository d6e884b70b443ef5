"""School calendars (bell schedules, school days) and therapists' availability and time off.

Which day is a school day: Monday to Friday, unless a CalendarDay marks the date "no_school";
a CalendarDay of kind "schedule" makes the date a school day run on another bell schedule (a
minimum day, a testing day, or a Saturday school). Every other school day runs on the school's
default bell schedule. Bell periods are wall-clock times in the school's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.audit.services import record
from app.auth.models import User
from app.db_types import utcnow
from app.districts.models import School
from app.extensions import db
from app.scheduling.models import (
    OPEN_STATUSES,
    WEEKDAYS,
    Appointment,
    Availability,
    BellPeriod,
    BellSchedule,
    CalendarDay,
    TimeOff,
)
from app.scheduling.services import SchedulingError, local_instant

MAX_DAYS_PER_CHANGE = 200


# --- reading the calendar -----------------------------------------------------------------------


@dataclass
class DayInfo:
    day: date
    school_day: bool
    schedule: BellSchedule | None
    label: str | None = None  # the calendar's note, e.g. "Thanksgiving"

    def periods(self) -> list[BellPeriod]:
        if not self.school_day or self.schedule is None:
            return []
        return [p for p in self.schedule.periods if p.weekday == self.day.weekday()]

    def period(self, name: str) -> BellPeriod | None:
        return next((p for p in self.periods() if p.name == name), None)


def schedules(school_id: int) -> list[BellSchedule]:
    return list(db.session.scalars(
        select(BellSchedule).where(BellSchedule.school_id == school_id)
        .options(selectinload(BellSchedule.periods))
        .order_by(BellSchedule.is_default.desc(), BellSchedule.name)
    ))


def day_infos(school_id: int, first: date, last: date) -> dict[date, DayInfo]:
    """What each date from `first` to `last` is at one school, in two queries."""
    all_schedules = schedules(school_id)
    default = next((s for s in all_schedules if s.is_default), None)
    by_id = {s.id: s for s in all_schedules}
    overrides = {
        row.day: row for row in db.session.scalars(
            select(CalendarDay).where(CalendarDay.school_id == school_id, CalendarDay.day >= first,
                                      CalendarDay.day <= last)
        )
    }
    infos = {}
    day = first
    while day <= last:
        override = overrides.get(day)
        if override is not None and override.kind == "no_school":
            infos[day] = DayInfo(day, False, None, override.label)
        elif override is not None:
            infos[day] = DayInfo(day, True, by_id.get(override.schedule_id), override.label)
        else:
            infos[day] = DayInfo(day, day.weekday() < 5, default if day.weekday() < 5 else None)
        day += timedelta(days=1)
    return infos


def day_info(school_id: int, day: date) -> DayInfo:
    return day_infos(school_id, day, day)[day]


def next_school_day(school_id: int, after: date, *, within_days: int = 21) -> date | None:
    """The first school day after `after` (weekends and holidays skipped)."""
    infos = day_infos(school_id, after + timedelta(days=1), after + timedelta(days=within_days))
    return next((d for d, info in sorted(infos.items()) if info.school_day), None)


def period_names(school_id: int) -> list[str]:
    """Every period name used by the school's bell schedules, in the order of the day."""
    rows = db.session.execute(
        select(BellPeriod.name, func.min(BellPeriod.starts_local))
        .join(BellSchedule, BellSchedule.id == BellPeriod.schedule_id)
        .where(BellSchedule.school_id == school_id)
        .group_by(BellPeriod.name)
        .order_by(func.min(BellPeriod.starts_local), BellPeriod.name)
    ).all()
    return [name for name, _start in rows]


# --- bell schedules -----------------------------------------------------------------------------


def _clean_name(value: str, what: str, limit: int) -> str:
    name = " ".join((value or "").split())
    if not name:
        raise SchedulingError(f"Give the {what} a name.")
    if len(name) > limit:
        raise SchedulingError(f"The {what} name can be at most {limit} characters.")
    return name


def create_bell_schedule(actor: User, school: School, name: str, *, copy_from: BellSchedule | None = None,
                         ip: str | None = None, now: datetime | None = None) -> BellSchedule:
    """Add a bell schedule. The school's first one becomes its default; `copy_from` copies periods."""
    now = now or utcnow()
    name = _clean_name(name, "bell schedule", 80)
    if copy_from is not None and copy_from.school_id != school.id:
        raise SchedulingError("You can only copy a bell schedule of the same school.")
    exists = db.session.scalar(select(BellSchedule.id).where(BellSchedule.school_id == school.id,
                                                              BellSchedule.name == name))
    if exists:
        raise SchedulingError(f"{school.name} already has a bell schedule called “{name}”.")
    is_first = not db.session.scalar(select(BellSchedule.id).where(BellSchedule.school_id == school.id).limit(1))
    schedule = BellSchedule(district_id=school.district_id, school_id=school.id, name=name, is_default=is_first,
                            created_at=now)
    db.session.add(schedule)
    db.session.flush()
    for period in (copy_from.periods if copy_from is not None else []):
        db.session.add(BellPeriod(district_id=school.district_id, schedule_id=schedule.id, name=period.name,
                                  weekday=period.weekday, starts_local=period.starts_local,
                                  ends_local=period.ends_local))
    record("schedule.bell_schedule_created", actor=actor, target=schedule, ip=ip, now=now, school_id=school.id)
    _commit("A bell schedule with that name was just added. Reload the page.")
    return schedule


def set_period(actor: User, schedule: BellSchedule, *, name: str, weekdays: list[int], starts: time, ends: time,
               ip: str | None = None, now: datetime | None = None) -> list[BellPeriod]:
    """Add a period to the chosen weekdays, or change its times where it already exists."""
    now = now or utcnow()
    name = _clean_name(name, "period", 40)
    days = sorted({int(d) for d in weekdays if 0 <= int(d) <= 6})
    if not days:
        raise SchedulingError("Choose at least one weekday for the period.")
    if starts is None or ends is None or starts >= ends:
        raise SchedulingError("The period must end after it starts.")
    existing = {(p.weekday, p.name): p for p in schedule.periods}
    changed = []
    for weekday in days:
        period = existing.get((weekday, name))
        if period is None:
            period = BellPeriod(district_id=schedule.district_id, schedule_id=schedule.id, name=name, weekday=weekday)
            schedule.periods.append(period)
        period.starts_local, period.ends_local = starts, ends
        changed.append(period)
    record("schedule.period_set", actor=actor, target=schedule, ip=ip, now=now, period=name,
           weekdays=",".join(WEEKDAYS[d][:3] for d in days))
    _commit("The bell schedule was changed at the same moment. Reload the page.")
    return changed


def delete_period(actor: User, period: BellPeriod, *, ip: str | None = None, now: datetime | None = None) -> None:
    now = now or utcnow()
    schedule = period.schedule
    schedule.periods.remove(period)
    record("schedule.period_deleted", actor=actor, target=schedule, ip=ip, now=now, period=period.name,
           weekday=WEEKDAYS[period.weekday][:3])
    db.session.commit()


def make_default(actor: User, schedule: BellSchedule, *, ip: str | None = None, now: datetime | None = None) -> None:
    """The default schedule runs on every school day the calendar does not mark otherwise."""
    now = now or utcnow()
    for other in db.session.scalars(select(BellSchedule).where(BellSchedule.school_id == schedule.school_id)):
        other.is_default = other.id == schedule.id
    record("schedule.bell_schedule_default", actor=actor, target=schedule, ip=ip, now=now)
    db.session.commit()


def delete_bell_schedule(actor: User, schedule: BellSchedule, *, ip: str | None = None,
                         now: datetime | None = None) -> None:
    """Remove a schedule and the calendar days that used it. The default goes last."""
    now = now or utcnow()
    others = db.session.scalar(select(func.count()).select_from(BellSchedule).where(
        BellSchedule.school_id == schedule.school_id, BellSchedule.id != schedule.id))
    if schedule.is_default and others:
        raise SchedulingError("This is the default bell schedule. Make another one the default first.")
    db.session.execute(delete(CalendarDay).where(CalendarDay.schedule_id == schedule.id))
    record("schedule.bell_schedule_deleted", actor=actor, target=schedule, ip=ip, now=now, name=schedule.name)
    db.session.delete(schedule)
    db.session.commit()


# --- school calendar days -----------------------------------------------------------------------


def mark_days(actor: User, school: School, *, first: date, last: date | None, kind: str,
              schedule: BellSchedule | None = None, label: str | None = None, ip: str | None = None,
              now: datetime | None = None) -> dict:
    """Mark dates as no school, or as running on another bell schedule.

    Over a range, weekends are left alone (they have no school already); a single date may be
    a weekend (a Saturday school). Returns how many dates changed and how many open sessions
    fall on new no-school days, so the person can tell the therapists to move them.
    """
    now = now or utcnow()
    last = last or first
    if last < first:
        raise SchedulingError("The last date must not be before the first.")
    if (last - first).days >= MAX_DAYS_PER_CHANGE:
        raise SchedulingError(f"Mark at most {MAX_DAYS_PER_CHANGE} days at once.")
    if kind not in ("no_school", "schedule"):
        raise SchedulingError("Choose “No school” or a bell schedule.")
    if kind == "schedule" and (schedule is None or schedule.school_id != school.id):
        raise SchedulingError("Choose one of this school's bell schedules.")
    label = " ".join((label or "").split())[:80] or None
    existing = {row.day: row for row in db.session.scalars(select(CalendarDay).where(
        CalendarDay.school_id == school.id, CalendarDay.day >= first, CalendarDay.day <= last))}
    days = []
    day = first
    while day <= last:
        if first == last or day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    for day in days:
        row = existing.get(day)
        if row is None:
            row = CalendarDay(district_id=school.district_id, school_id=school.id, day=day)
            db.session.add(row)
        row.kind, row.label = kind, label
        row.schedule_id = schedule.id if kind == "schedule" else None
    affected = 0
    if kind == "no_school" and days:
        affected = db.session.scalar(select(func.count()).select_from(Appointment).where(
            Appointment.school_id == school.id, Appointment.local_date.in_(days),
            Appointment.status.in_(OPEN_STATUSES))) or 0
    record("schedule.calendar_days_marked", actor=actor, target=school, ip=ip, now=now, kind=kind,
           first=first.isoformat(), last=last.isoformat(), days=len(days))
    _commit("The calendar was changed at the same moment. Reload the page and try again.")
    return {"days": len(days), "sessions_on_closed_days": affected}


def remove_day(actor: User, row: CalendarDay, *, ip: str | None = None, now: datetime | None = None) -> None:
    now = now or utcnow()
    record("schedule.calendar_day_removed", actor=actor, target=row, ip=ip, now=now, day=row.day.isoformat())
    db.session.delete(row)
    db.session.commit()


# --- availability and time off ----------------------------------------------------------------


def add_availability(therapist: User, school: School, *, weekdays: list[int], starts: time, ends: time,
                     ip: str | None = None, now: datetime | None = None) -> list[Availability]:
    """Weekly windows (school local time) when the therapist takes sessions at `school`."""
    now = now or utcnow()
    if school.id not in {s.id for s in therapist.schools}:
        raise SchedulingError(f"You do not work at {school.name}.")
    days = sorted({int(d) for d in weekdays if 0 <= int(d) <= 6})
    if not days:
        raise SchedulingError("Choose at least one weekday.")
    if starts is None or ends is None or starts >= ends:
        raise SchedulingError("Your availability must end after it starts.")
    windows = []
    for weekday in days:
        window = Availability(district_id=therapist.district_id, therapist_id=therapist.id, school_id=school.id,
                              weekday=weekday, starts_local=starts, ends_local=ends)
        db.session.add(window)
        windows.append(window)
    record("schedule.availability_added", actor=therapist, target=school, ip=ip, now=now,
           weekdays=",".join(WEEKDAYS[d][:3] for d in days))
    db.session.commit()
    return windows


def delete_availability(therapist: User, window: Availability, *, ip: str | None = None,
                        now: datetime | None = None) -> None:
    now = now or utcnow()
    record("schedule.availability_removed", actor=therapist, target=window, ip=ip, now=now)
    db.session.delete(window)
    db.session.commit()


def availability(therapist_id: int) -> list[Availability]:
    return list(db.session.scalars(
        select(Availability).where(Availability.therapist_id == therapist_id)
        .order_by(Availability.school_id, Availability.weekday, Availability.starts_local)
    ))


def home_zone(therapist: User) -> str:
    """The zone a therapist's own dates are read in: that of their first school."""
    return therapist.schools[0].timezone if therapist.schools else "UTC"


def add_time_off(therapist: User, *, first: date, last: date | None = None, starts: time | None = None,
                 ends: time | None = None, label: str | None = None, ip: str | None = None,
                 now: datetime | None = None) -> TimeOff:
    """Time away from `first` (at `starts`, else the whole day) to `last` (at `ends`, else its end),
    read in the therapist's home zone (their first school's)."""
    now = now or utcnow()
    last = last or first
    tz = home_zone(therapist)
    starts_at = local_instant(first, starts or time.min, tz)
    ends_at = local_instant(last, ends, tz) if ends else local_instant(last + timedelta(days=1), time.min, tz)
    if ends_at <= starts_at:
        raise SchedulingError("Time off must end after it starts.")
    if ends_at - starts_at > timedelta(days=366):
        raise SchedulingError("Time off can last at most a year.")
    row = TimeOff(district_id=therapist.district_id, therapist_id=therapist.id, starts_at=starts_at, ends_at=ends_at,
                  label=" ".join((label or "").split())[:80] or None, created_at=now)
    db.session.add(row)
    db.session.flush()
    record("schedule.time_off_added", actor=therapist, target=row, ip=ip, now=now)
    db.session.commit()
    return row


def delete_time_off(therapist: User, row: TimeOff, *, ip: str | None = None, now: datetime | None = None) -> None:
    now = now or utcnow()
    record("schedule.time_off_removed", actor=therapist, target=row, ip=ip, now=now)
    db.session.delete(row)
    db.session.commit()


def _commit(conflict_message: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise SchedulingError(conflict_message) from None
