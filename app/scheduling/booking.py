"""Booking sessions (once, weekly or every other week), moving, cancelling and attendance.

Conflicts are found before writing and each is named: the therapist already busy, the student
already busy (with another therapist), outside the therapist's availability, during their time
off, not a school day, the class period not meeting that day, already past, and a telehealth
session without `video_sessions` consent on its date (with what is missing).

Two requests racing for the same slot both pass that check; the database decides. Every open
appointment claims its 5-minute marks for its therapist and its student in `SlotClaim` (UNIQUE),
written in the appointment's own transaction, so the second commit fails on SQLite and on
PostgreSQL alike, and the loser gets the same named conflict as if it had come second.

Recurrence works on local dates: the n-th occurrence is `first_date + n * interval` weeks at the
same wall-clock time (or the same class period, whose time may differ on a minimum day), then
converted to UTC for that date, so it keeps its local time across daylight-saving changes.
Non-school days are skipped and do not count towards "N occurrences"; a date with a conflict
refuses the whole series unless the person chose to leave such dates out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import joinedload

from app.audit.services import record
from app.auth.models import User
from app.consent.services import consent_is_active
from app.db_types import utcnow
from app.districts.models import School, Student
from app.extensions import db
from app.scheduling import calendar
from app.scheduling.models import (
    ATTENDANCE,
    CANCELLED_BY,
    MODALITIES,
    SLOT_MINUTES,
    WEEKDAYS,
    Appointment,
    AppointmentSeries,
    Availability,
    SlotClaim,
    TimeOff,
)
from app.scheduling.services import (
    SchedulingError,
    clock,
    day_label,
    local_instant,
    minutes_between,
    on_slot_grid,
    round_up_to_slot,
    to_local,
)

REPEATS = {"none": 0, "weekly": 1, "biweekly": 2}
MAX_OCCURRENCES = 60
MAX_SERIES_DAYS = 366
MIN_MINUTES, MAX_MINUTES = 5, 240
# Statuses whose time is taken (a cancelled session frees its time).
HOLDING_STATUSES = ("scheduled", "needs_consent", "completed")


class BookingConflict(SchedulingError):
    """Refused because of conflicts; `conflicts` names each one, `advice` says what to do."""

    def __init__(self, conflicts: list[str], advice: list[str] | None = None):
        self.conflicts = conflicts
        self.advice = advice or []
        super().__init__("We could not book this: " + " ".join(conflicts))


@dataclass
class Occurrence:
    """One date of a booking as planned, with whatever stands in its way."""

    local_date: date
    starts_local: time | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    period_name: str | None = None
    problems: list[str] = field(default_factory=list)
    skipped: str | None = None  # a series leaves this date out: no school

    def describe(self) -> str:
        when = day_label(self.local_date)
        if self.starts_local is not None:
            when += f" at {clock(self.starts_local)}"
        return f"{when}: {'; '.join(self.problems)}."


@dataclass
class BookingResult:
    appointments: list[Appointment]
    series: AppointmentSeries | None
    left_out: list[tuple[date, str]]  # dates of the series not booked, and why


# --- planning -------------------------------------------------------------------------------------


def _occurrence_at(school: School, info: calendar.DayInfo, *, start_time: time | None, period_name: str | None,
                   duration_minutes: int | None) -> Occurrence:
    occ = Occurrence(local_date=info.day, period_name=period_name)
    if period_name:
        period = info.period(period_name)
        if period is None:
            schedule = info.schedule.name if info.schedule else "no bell schedule"
            occ.problems.append(f"{period_name} does not meet that day ({schedule})")
            return occ
        occ.starts_local = round_up_to_slot(period.starts_local)
        minutes = duration_minutes or minutes_between(occ.starts_local, period.ends_local)
        if minutes < MIN_MINUTES:
            occ.problems.append(f"{period_name} is too short for a session")
            return occ
    else:
        occ.starts_local = start_time
        minutes = duration_minutes
    occ.starts_at = local_instant(info.day, occ.starts_local, school.timezone)
    occ.ends_at = occ.starts_at + timedelta(minutes=minutes)
    return occ


def plan_occurrences(school: School, *, first_date: date, start_time: time | None = None,
                     period_name: str | None = None, duration_minutes: int | None = None, repeat: str = "none",
                     occurrences: int | None = None, until: date | None = None) -> list[Occurrence]:
    """The dates a booking asks for, each with its local and UTC times (conflicts not yet checked)."""
    interval = REPEATS[repeat]
    last_possible = first_date + timedelta(days=MAX_SERIES_DAYS)
    if interval and until:
        last_possible = min(last_possible, until)
    infos = calendar.day_infos(school.id, first_date, last_possible if interval else first_date)
    planned: list[Occurrence] = []
    counted = 0
    day = first_date
    while day <= last_possible:
        info = infos[day]
        if not info.school_day:
            if not interval:
                occ = Occurrence(local_date=day, period_name=period_name, starts_local=start_time)
                occ.problems.append(f"not a school day ({info.label})" if info.label else "not a school day")
                return [occ]
            planned.append(Occurrence(local_date=day, period_name=period_name, skipped=info.label or "no school"))
        else:
            planned.append(_occurrence_at(school, info, start_time=start_time, period_name=period_name,
                                          duration_minutes=duration_minutes))
            counted += 1
        if not interval or (occurrences and counted >= occurrences):
            break
        day += timedelta(weeks=interval)
    return planned


# --- conflicts ------------------------------------------------------------------------------------


def _overlaps(a_start, a_end, b_start, b_end) -> bool:
    return a_start < b_end and b_start < a_end


def missing_video_consent(student: Student, at: datetime, now: datetime) -> str:
    """Why `student` has no video-sessions consent at `at`, in words for the therapist."""
    from app.consent.queries import consent_statuses

    status = consent_statuses([student.id], now)[student.id]
    name = student.display_name
    if "video_sessions" in status.scopes and status.expires_at is not None and status.expires_at <= at:
        last_day = to_local(status.expires_at - timedelta(seconds=1), student.school.timezone).date()
        return f"{name}'s consent for video sessions ends on {day_label(last_day)}"
    if status.state == "active":
        return f"the consent {name}'s guardian gave does not include video sessions"
    if status.state == "pending":
        return f"a consent request for {name} is still waiting for a guardian's signature"
    return f"no guardian of {name} has given consent for video sessions"


def find_conflicts(occurrences: list[Occurrence], *, therapist: User, student: Student, school: School,
                   modality: str, now: datetime, exclude_id: int | None = None) -> list[str]:
    """Add each occurrence's problems to it (a fixed number of queries). Returns advice for the person."""
    live = [o for o in occurrences if o.starts_at is not None and not o.skipped]
    advice: list[str] = []
    if not live:
        return advice
    low, high = min(o.starts_at for o in live), max(o.ends_at for o in live)
    query = (
        select(Appointment)
        .where(or_(Appointment.therapist_id == therapist.id, Appointment.student_id == student.id),
               Appointment.status.in_(HOLDING_STATUSES), Appointment.starts_at < high, Appointment.ends_at > low)
        .options(joinedload(Appointment.student), joinedload(Appointment.therapist))
    )
    if exclude_id is not None:
        query = query.where(Appointment.id != exclude_id)
    busy = list(db.session.scalars(query))
    windows = list(db.session.scalars(select(Availability).where(
        Availability.therapist_id == therapist.id, Availability.school_id == school.id)))
    away = list(db.session.scalars(select(TimeOff).where(
        TimeOff.therapist_id == therapist.id, TimeOff.starts_at < high, TimeOff.ends_at > low)))
    tz = school.timezone
    consent_gap = False
    for occ in live:
        if occ.starts_at < now:
            occ.problems.append("that time has already passed")
        for other in busy:
            if not _overlaps(occ.starts_at, occ.ends_at, other.starts_at, other.ends_at):
                continue
            other_tz = other.school.timezone
            span = f"{clock(to_local(other.starts_at, other_tz))}–{clock(to_local(other.ends_at, other_tz))}"
            if other.therapist_id == therapist.id:
                occ.problems.append(f"you already have a session with {other.student.initials} ({span})")
            else:
                occ.problems.append(f"{student.display_name} already has a session with {other.therapist.name} ({span})")
        local_start, local_end = to_local(occ.starts_at, tz), to_local(occ.ends_at, tz)
        same_day = [w for w in windows if w.weekday == occ.local_date.weekday()]
        fits = local_end.date() == local_start.date() and any(
            w.starts_local <= local_start.time() and local_end.time() <= w.ends_local for w in same_day)
        if not windows:
            occ.problems.append(f"you have not set your availability at {school.name}")
        elif not fits:
            weekday = WEEKDAYS[occ.local_date.weekday()]
            if same_day:
                ranges = ", ".join(f"{clock(w.starts_local)}–{clock(w.ends_local)}" for w in same_day)
                occ.problems.append(f"outside your availability ({weekday}s {ranges})")
            else:
                occ.problems.append(f"outside your availability (none on {weekday}s at {school.name})")
        for off in away:
            if _overlaps(occ.starts_at, occ.ends_at, off.starts_at, off.ends_at):
                occ.problems.append(f"you are on time off ({off.label})" if off.label else "you are on time off")
        if modality == "telehealth" and not consent_is_active(student, "video_sessions", occ.starts_at):
            occ.problems.append("no consent for video sessions on that date")
            if not consent_gap:
                consent_gap = True
                advice.append(
                    f"A video session needs a guardian's consent for video sessions on its date: "
                    f"{missing_video_consent(student, occ.starts_at, now)}. Request consent from "
                    f"{student.display_name}'s page, or book the session in person.")
    return advice


# --- claims ---------------------------------------------------------------------------------------


def slot_marks(starts_at: datetime, ends_at: datetime) -> list[datetime]:
    marks, mark = [], starts_at
    while mark < ends_at:
        marks.append(mark)
        mark += timedelta(minutes=SLOT_MINUTES)
    return marks


def _claim(appointments: list[Appointment]) -> None:
    """Claim every 5-minute mark of each appointment for its therapist and student.

    One executemany INSERT in a fixed global order (kind, resource, time), so two transactions
    claiming overlapping marks wait for each other in the same order and never deadlock; the
    loser's INSERT fails on the UNIQUE constraint once the winner commits.
    """
    rows = []
    for appt in appointments:
        assert on_slot_grid(appt.starts_at.time()), "sessions start on a 5-minute mark"
        for kind, resource_id in (("student", appt.student_id), ("therapist", appt.therapist_id)):
            rows += [{"appointment_id": appt.id, "kind": kind, "resource_id": resource_id, "slot_start": mark}
                     for mark in slot_marks(appt.starts_at, appt.ends_at)]
    rows.sort(key=lambda r: (r["kind"], r["resource_id"], r["slot_start"]))
    if rows:
        db.session.execute(insert(SlotClaim), rows)


def _release(appointment: Appointment) -> None:
    db.session.execute(delete(SlotClaim).where(SlotClaim.appointment_id == appointment.id))


def _lost_race(occurrences: list[Occurrence], **context) -> BookingConflict:
    """After the database refused a claim: name what now stands in the way."""
    db.session.rollback()
    for occ in occurrences:
        occ.problems = []
    advice = find_conflicts(occurrences, **context)
    conflicts = [o.describe() for o in occurrences if o.problems and not o.skipped]
    return BookingConflict(conflicts or ["Someone booked this time at the same moment. Please try again."], advice)


# --- booking --------------------------------------------------------------------------------------


def _validate_time(start_time: time | None, period_name: str | None, duration_minutes: int | None) -> None:
    if bool(start_time) == bool(period_name):
        raise SchedulingError("Choose a start time or a class period.")
    if start_time is not None:
        if not on_slot_grid(start_time):
            raise SchedulingError("Sessions start on a 5-minute mark (for example 10:05 or 10:10).")
        if not duration_minutes:
            raise SchedulingError("Choose how many minutes the session lasts.")
    if duration_minutes is not None and not MIN_MINUTES <= duration_minutes <= MAX_MINUTES:
        raise SchedulingError(f"A session lasts between {MIN_MINUTES} and {MAX_MINUTES} minutes.")


def book(actor: User, student: Student, *, first_date: date, modality: str, start_time: time | None = None,
         period_name: str | None = None, duration_minutes: int | None = None, repeat: str = "none",
         occurrences: int | None = None, until: date | None = None, skip_conflicts: bool = False,
         ip: str | None = None, now: datetime | None = None) -> BookingResult:
    """Book one session or a series for `student` with `actor` (a therapist). Authorization is the
    caller's job (the student must be on the caseload). Raises BookingConflict naming each conflict."""
    now = now or utcnow()
    school = student.school
    if modality not in MODALITIES:
        raise SchedulingError("Choose telehealth or in person.")
    if repeat not in REPEATS:
        raise SchedulingError("Choose how the session repeats.")
    if not student.active:
        raise SchedulingError(f"{student.display_name} is no longer an active student.")
    if school.id not in {s.id for s in actor.schools}:
        raise SchedulingError(f"You do not work at {school.name}.")
    _validate_time(start_time, period_name, duration_minutes)
    if repeat != "none":
        if bool(occurrences) == bool(until):
            raise SchedulingError("Choose how many sessions, or the date the series ends.")
        if occurrences is not None and not 2 <= occurrences <= MAX_OCCURRENCES:
            raise SchedulingError(f"A series has between 2 and {MAX_OCCURRENCES} sessions.")
        if until is not None and not first_date < until <= first_date + timedelta(days=MAX_SERIES_DAYS):
            raise SchedulingError("The series must end after its first date and within a year.")
    planned = plan_occurrences(school, first_date=first_date, start_time=start_time, period_name=period_name,
                               duration_minutes=duration_minutes, repeat=repeat, occurrences=occurrences, until=until)
    context = {"therapist": actor, "student": student, "school": school, "modality": modality, "now": now}
    advice = find_conflicts(planned, **context)
    wanted = [o for o in planned if not o.skipped]
    conflicted = [o for o in wanted if o.problems]
    usable = [o for o in wanted if not o.problems]
    if conflicted and (repeat == "none" or not skip_conflicts or not usable):
        raise BookingConflict([o.describe() for o in conflicted], advice)
    series = None
    if repeat != "none":
        series = AppointmentSeries(
            district_id=student.district_id, school_id=school.id, therapist_id=actor.id, student_id=student.id,
            interval_weeks=REPEATS[repeat], first_date=first_date, local_time=start_time, period_name=period_name,
            duration_minutes=duration_minutes, modality=modality, occurrences=occurrences, until=until,
            created_by_id=actor.id, created_at=now)
        db.session.add(series)
    appointments = [
        Appointment(district_id=student.district_id, school_id=school.id, therapist_id=actor.id, student_id=student.id,
                    series=series, starts_at=o.starts_at, ends_at=o.ends_at, local_date=o.local_date,
                    period_name=o.period_name, modality=modality, status="scheduled", created_by_id=actor.id,
                    created_at=now, updated_at=now)
        for o in usable
    ]
    db.session.add_all(appointments)
    try:
        db.session.flush()
        _claim(appointments)
        record("schedule.booked", actor=actor, target=series or appointments[0], student_id=student.id, ip=ip,
               now=now, sessions=len(appointments), modality=modality, repeat=repeat)
        db.session.commit()
    except (IntegrityError, OperationalError):  # another booking claimed a slot first (or a deadlock victim)
        raise _lost_race(usable, **context) from None
    left_out = [(o.local_date, o.skipped) for o in planned if o.skipped]
    left_out += [(o.local_date, "; ".join(o.problems)) for o in conflicted]
    return BookingResult(appointments, series, sorted(left_out))


def reschedule(actor: User, appointment: Appointment, *, new_date: date, reason: str, start_time: time | None = None,
               period_name: str | None = None, duration_minutes: int | None = None, modality: str | None = None,
               ip: str | None = None, now: datetime | None = None) -> Appointment:
    """Move one session (alone, even within a series), optionally changing its length or modality."""
    now = now or utcnow()
    if not appointment.is_open:
        raise SchedulingError(f"This session is {appointment.status.replace('_', ' ')}; it cannot be moved.")
    if appointment.starts_at <= now:
        raise SchedulingError("This session has already started. Record its attendance instead.")
    reason = _reason(reason, "moving")
    modality = modality or appointment.modality
    if modality not in MODALITIES:
        raise SchedulingError("Choose telehealth or in person.")
    if start_time is not None and not duration_minutes:
        duration_minutes = appointment.duration_minutes
    _validate_time(start_time, period_name, duration_minutes)
    school = appointment.school
    planned = plan_occurrences(school, first_date=new_date, start_time=start_time, period_name=period_name,
                               duration_minutes=duration_minutes)
    context = {"therapist": appointment.therapist, "student": appointment.student, "school": school,
               "modality": modality, "now": now, "exclude_id": appointment.id}
    advice = find_conflicts(planned, **context)
    occ = planned[0]
    if occ.problems:
        raise BookingConflict([occ.describe()], advice)
    before = appointment.starts_at
    _release(appointment)
    appointment.starts_at, appointment.ends_at, appointment.local_date = occ.starts_at, occ.ends_at, occ.local_date
    appointment.period_name, appointment.modality = occ.period_name, modality
    appointment.status, appointment.consent_flagged_at = "scheduled", None
    appointment.rescheduled_at, appointment.reschedule_reason, appointment.updated_at = now, reason, now
    try:
        db.session.flush()
        _claim([appointment])
        record("schedule.rescheduled", actor=actor, target=appointment, student_id=appointment.student_id, ip=ip,
               now=now, moved_from=before.isoformat(), moved_to=occ.starts_at.isoformat(), modality=modality)
        db.session.commit()
    except (IntegrityError, OperationalError):
        raise _lost_race(planned, **context) from None
    return appointment


def _reason(text: str | None, what: str) -> str:
    reason = " ".join((text or "").split())
    if len(reason) < 3:
        raise SchedulingError(f"Give a short reason for {what} the session (no clinical details).")
    return reason[:300]


def cancel(actor: User, appointment: Appointment, *, party: str, reason: str, ip: str | None = None,
           now: datetime | None = None) -> Appointment:
    """Cancel one session before it ends; its time is free again at once."""
    now = now or utcnow()
    if not appointment.is_open:
        raise SchedulingError(f"This session is already {appointment.status.replace('_', ' ')}.")
    if appointment.ends_at <= now:
        raise SchedulingError("This session is over. Record its attendance instead.")
    if party not in CANCELLED_BY:
        raise SchedulingError("Choose who cancelled the session.")
    reason = _reason(reason, "cancelling")
    _release(appointment)
    appointment.status, appointment.cancelled_at, appointment.cancelled_by_id = "cancelled", now, actor.id
    appointment.cancelled_by_party, appointment.cancel_reason, appointment.updated_at = party, reason, now
    record("schedule.cancelled", actor=actor, target=appointment, student_id=appointment.student_id, ip=ip, now=now,
           by=party)
    db.session.commit()
    return appointment


def record_attendance(actor: User, appointment: Appointment, *, attendance: str, minutes_delivered: int | None,
                      ip: str | None = None, now: datetime | None = None) -> Appointment:
    """After a session starts: attended (with minutes delivered), no-show, or cancelled by whom.

    Can be corrected later. Claims are left as they are: the time is in the past.
    """
    now = now or utcnow()
    if appointment.starts_at > now:
        raise SchedulingError("You can record attendance once the session has started.")
    if appointment.status == "cancelled" and appointment.attendance is None:
        raise SchedulingError("This session was cancelled before it happened.")
    if attendance not in ATTENDANCE:
        raise SchedulingError("Choose what happened.")
    if attendance == "attended":
        limit = min(MAX_MINUTES, appointment.duration_minutes + 60)
        if minutes_delivered is None or not 1 <= minutes_delivered <= limit:
            raise SchedulingError(f"Enter the minutes delivered (1 to {limit}).")
    else:
        minutes_delivered = 0
    appointment.attendance, appointment.minutes_delivered = attendance, minutes_delivered
    appointment.attendance_recorded_at = appointment.updated_at = now
    if attendance in ("attended", "no_show"):
        appointment.status = "completed"
        appointment.cancelled_by_party = appointment.cancelled_at = None
    else:
        appointment.status = "cancelled"
        appointment.cancelled_by_party = attendance.removeprefix("cancelled_")
        appointment.cancelled_at = appointment.cancelled_at or now
        appointment.cancelled_by_id = actor.id
    record("schedule.attendance_recorded", actor=actor, target=appointment, student_id=appointment.student_id, ip=ip,
           now=now, attendance=attendance, minutes=minutes_delivered)
    db.session.commit()
    return appointment


def flag_sessions_without_consent(*, now: datetime, student_id: int | None = None) -> list[Appointment]:
    """Mark future telehealth sessions whose video consent no longer covers them `needs_consent`.

    Called by the consent_revoked subscriber (for one student) and by the reminder job (for
    everyone, which also catches consent that simply ended). Idempotent: flagged sessions are
    not scheduled any more, so a second run finds nothing.
    """
    query = select(Appointment).where(Appointment.status == "scheduled", Appointment.modality == "telehealth",
                                      Appointment.starts_at > now)
    if student_id is not None:
        query = query.where(Appointment.student_id == student_id)
    flagged = [a for a in db.session.scalars(query.order_by(Appointment.starts_at))
               if not consent_is_active(a.student_id, "video_sessions", a.starts_at)]
    for appointment in flagged:
        appointment.status, appointment.consent_flagged_at, appointment.updated_at = "needs_consent", now, now
        record("schedule.needs_consent", actor=None, district_id=appointment.district_id, target=appointment,
               student_id=appointment.student_id, now=now)
    db.session.commit()
    return flagged
