"""Scheduling part of `flask seed-demo`: bell schedules, holidays, availability, consent for a few
students and a few upcoming sessions, so `make run` shows a populated calendar. Idempotent: each
part is skipped when it already exists. Sessions are booked through the booking service, so the
demo data obeys the same conflict rules as people do."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from app.auth.models import User
from app.districts.models import District, School, Student
from app.extensions import db
from app.scheduling import booking, calendar
from app.scheduling.models import Appointment, Availability
from app.scheduling.services import SchedulingError, local_today

REGULAR = [("Period 1", "08:00", "08:50"), ("Period 2", "08:55", "09:45"), ("Period 3", "09:50", "10:40"),
           ("Period 4", "10:45", "11:35"), ("Lunch", "11:35", "12:15"), ("Period 5", "12:20", "13:10"),
           ("Period 6", "13:15", "14:05")]
MINIMUM = [("Period 1", "08:00", "08:35"), ("Period 2", "08:40", "09:15"), ("Period 3", "09:20", "09:55"),
           ("Period 4", "10:00", "10:35"), ("Period 5", "10:40", "11:15"), ("Period 6", "11:20", "11:55")]
# Demo students (by roster id) whose guardians gave video consent, and who get sessions.
# demo-s-002 is Liam Nguyen, child of the demo guardian. Ava Garcia (demo-s-001) is left alone:
# the consent browser test requests her consent from scratch.
CONSENTED = ("demo-s-002", "demo-s-005", "demo-s-020")


def _t(text: str) -> time:
    return time.fromisoformat(text)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _holidays(today: date) -> list[tuple[date, date, str]]:
    """This school year's usual US holidays (first day, last day, label)."""
    fall = today.year if today.month >= 7 else today.year - 1
    thanksgiving = _nth_weekday(fall, 11, 3, 4)
    return [
        (date(fall, 11, 11), date(fall, 11, 11), "Veterans Day"),
        (thanksgiving, thanksgiving + timedelta(days=1), "Thanksgiving break"),
        (date(fall, 12, 21), date(fall + 1, 1, 1), "Winter break"),
        (_nth_weekday(fall + 1, 1, 0, 3), _nth_weekday(fall + 1, 1, 0, 3), "Martin Luther King Jr. Day"),
        (_nth_weekday(fall + 1, 2, 0, 3), _nth_weekday(fall + 1, 2, 0, 3), "Presidents' Day"),
    ]


def _minimum_days(today: date) -> list[date]:
    fall = today.year if today.month >= 7 else today.year - 1
    return [_nth_weekday(fall, 11, 3, 4) - timedelta(days=1), date(fall, 12, 18)]


def _seed_calendar(admin: User, school: School, today: date) -> None:
    if calendar.schedules(school.id):
        return
    weekdays = [0, 1, 2, 3, 4]
    regular = calendar.create_bell_schedule(admin, school, "Regular day")
    for name, start, end in REGULAR:
        calendar.set_period(admin, regular, name=name, weekdays=weekdays, starts=_t(start), ends=_t(end))
    minimum = calendar.create_bell_schedule(admin, school, "Minimum day")
    for name, start, end in MINIMUM:
        calendar.set_period(admin, minimum, name=name, weekdays=weekdays, starts=_t(start), ends=_t(end))
    for first, last, label in _holidays(today):
        calendar.mark_days(admin, school, first=first, last=last, kind="no_school", label=label)
    for day in _minimum_days(today):
        if day.weekday() < 5:
            calendar.mark_days(admin, school, first=day, last=day, kind="schedule", schedule=minimum,
                               label="Minimum day")


def _seed_availability(therapist: User, plan: dict[School, list[int]]) -> None:
    if db.session.scalar(select(func.count()).select_from(Availability).where(Availability.therapist_id == therapist.id)):
        return
    for school, weekdays in plan.items():
        calendar.add_availability(therapist, school, weekdays=weekdays, starts=_t("08:00"), ends=_t("15:00"))


def _seed_consent(admin: User, student: Student) -> None:
    from app.consent.models import ConsentRequest
    from app.consent.services import decide, legal_guardians, request_consent

    if db.session.scalar(select(ConsentRequest.id).where(ConsentRequest.student_id == student.id).limit(1)):
        return
    guardians = legal_guardians(student)
    if not guardians:
        return
    created = request_consent(admin, student, scopes=["video_sessions", "games", "mood_checkins"])
    decide(created.request, guardians[0], decision="signed",
           choices={"video_sessions": True, "games": True, "mood_checkins": True}, typed_name=guardians[0].name,
           confirmed_legal_guardian=True, language=guardians[0].preferred_language)


def _next_school_days(school: School, today: date, count: int) -> list[date]:
    infos = calendar.day_infos(school.id, today + timedelta(days=1), today + timedelta(days=40))
    return [d for d, info in sorted(infos.items()) if info.school_day][:count]


def _book(therapist: User, student: Student, now: datetime, **kw) -> None:
    try:
        booking.book(therapist, student, now=now, skip_conflicts=True, **kw)
    except SchedulingError:
        pass  # a demo date that does not fit (e.g. a holiday week) is simply left out


def seed_schedule_demo(district: District, admin: User, schools: list[School], therapists: list[User],
                       now: datetime) -> None:
    """Create the demo district's scheduling data once; a second run changes nothing."""
    elementary, middle = schools
    priya, jordan, sam = therapists
    for school in schools:
        _seed_calendar(admin, school, local_today(now, school.timezone))
    _seed_availability(priya, {elementary: [0, 1, 2, 3, 4]})
    _seed_availability(jordan, {middle: [0, 1, 2, 3, 4]})
    _seed_availability(sam, {elementary: [0, 2], middle: [1, 3, 4]})

    students = {s.source_id: s for s in db.session.scalars(select(Student).where(Student.district_id == district.id))}
    for source_id in CONSENTED:
        if source_id in students:
            _seed_consent(admin, students[source_id])
    if db.session.scalar(select(func.count()).select_from(Appointment).where(Appointment.district_id == district.id)):
        return
    from app.districts.queries import current_caseload

    today = local_today(now, elementary.timezone)
    days = _next_school_days(elementary, today, 3)
    if not days:
        return
    # A weekly telehealth series by class period for the demo guardian's child, and in-person ones.
    for therapist, source_id, modality, period in ((priya, "demo-s-002", "telehealth", "Period 2"),
                                                   (priya, "demo-s-005", "telehealth", "Period 5"),
                                                   (jordan, "demo-s-020", "telehealth", "Period 3")):
        if source_id in students:
            _book(therapist, students[source_id], now, first_date=days[0], period_name=period, modality=modality,
                  repeat="weekly", occurrences=6)
    for therapist in (priya, jordan, sam):
        for index, student in enumerate(s for s in current_caseload(therapist) if s.source_id not in CONSENTED):
            if index >= 3:
                break
            served = {s.id for s in therapist.schools}
            if student.school_id not in served:
                continue
            _book(therapist, student, now, first_date=days[index % len(days)], start_time=time(13 + index % 2, 30),
                  duration_minutes=30, modality="in_person")
