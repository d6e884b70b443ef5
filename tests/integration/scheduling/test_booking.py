"""Booking without HTTP: recurrence across DST and holidays, class periods, every kind of conflict,
consent-gated telehealth, cancelling, moving one occurrence and attendance."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.extensions import db
from app.scheduling import booking, calendar
from app.scheduling.booking import BookingConflict
from app.scheduling.models import Appointment, AppointmentSeries, SlotClaim
from app.scheduling.services import SchedulingError
from tests.integration.scheduling.conftest import MINIMUM_DAY, NOW, VETERANS_DAY, t

LA = ZoneInfo("America/Los_Angeles")


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _local(appointment: Appointment) -> datetime:
    return appointment.starts_at.astimezone(LA)


def test_therapist_can_book_one_session_stored_in_utc_with_its_claims(world, book):
    result = book(first_date=date(2026, 10, 21), start_time=t("10:05"), duration_minutes=30)
    [appointment] = result.appointments
    assert appointment.starts_at == datetime(2026, 10, 21, 17, 5, tzinfo=UTC)  # 10:05 PDT
    assert appointment.ends_at - appointment.starts_at == timedelta(minutes=30)
    assert appointment.local_date == date(2026, 10, 21) and appointment.status == "scheduled"
    assert appointment.series_id is None and result.series is None
    # 6 five-minute marks, for the therapist and for the student.
    claims = db.session.scalars(select(SlotClaim).where(SlotClaim.appointment_id == appointment.id)).all()
    assert sorted((c.kind, c.slot_start.minute) for c in claims) == sorted(
        [(kind, m) for kind in ("student", "therapist") for m in (5, 10, 15, 20, 25, 30)])


def test_weekly_series_keeps_its_local_time_across_the_dst_change_and_skips_the_holiday(world, book):
    result = book(first_date=date(2026, 10, 21), start_time=t("15:00"), duration_minutes=30, repeat="weekly",
                  occurrences=4)
    days = [a.local_date for a in result.appointments]
    # 11 November is Veterans Day: skipped, and it does not count towards the four sessions.
    assert days == [date(2026, 10, 21), date(2026, 10, 28), date(2026, 11, 4), date(2026, 11, 18)]
    assert result.left_out == [(VETERANS_DAY, "Veterans Day")]
    assert {_local(a).time() for a in result.appointments} == {t("15:00")}
    utc_hours = [a.starts_at.hour for a in result.appointments]
    assert utc_hours == [22, 22, 23, 23]  # 3:00 pm is 22:00 UTC in PDT and 23:00 UTC in PST
    assert result.series.interval_weeks == 1 and result.series.occurrences == 4
    assert {a.series_id for a in result.appointments} == {result.series.id}


def test_every_other_week_until_a_date(world, book):
    result = book(first_date=date(2026, 10, 21), start_time=t("09:00"), duration_minutes=45, repeat="biweekly",
                  until=date(2026, 12, 2))
    assert [a.local_date for a in result.appointments] == [
        date(2026, 10, 21), date(2026, 11, 4), date(2026, 11, 18), date(2026, 12, 2)]
    assert {_local(a).time() for a in result.appointments} == {t("09:00")}


def test_series_by_class_period_follows_each_day_s_bell_schedule(world, book):
    result = book(first_date=date(2026, 10, 21), period_name="Period 3", repeat="weekly", occurrences=3)
    by_day = {a.local_date: a for a in result.appointments}
    regular = by_day[date(2026, 10, 21)]
    # Period 3 starts at 9:52: the session starts at the next 5-minute mark and lasts to the bell.
    assert _local(regular).time() == t("09:55") and regular.duration_minutes == 45
    assert regular.period_name == "Period 3"
    minimum = by_day[MINIMUM_DAY]  # the minimum day's Period 3 is 9:10 to 9:40
    assert _local(minimum).time() == t("09:10") and minimum.duration_minutes == 30
    after_dst = by_day[date(2026, 11, 4)]
    assert _local(after_dst).time() == t("09:55") and after_dst.starts_at.hour == 17  # PST


def test_a_period_that_does_not_meet_is_named(world, book):
    with pytest.raises(BookingConflict) as refused:
        book(first_date=MINIMUM_DAY, period_name="Period 5")
    assert refused.value.conflicts == ["Wed 28 Oct 2026: Period 5 does not meet that day (Minimum day)."]


def test_single_booking_on_a_non_school_day_is_refused_with_its_reason(world, book):
    with pytest.raises(BookingConflict) as refused:
        book(first_date=VETERANS_DAY)
    assert "not a school day (Veterans Day)" in refused.value.conflicts[0]
    with pytest.raises(BookingConflict, match="not a school day"):
        book(first_date=date(2026, 10, 24))  # a Saturday
    assert _count(Appointment) == 0


def test_each_conflict_is_named(world, book, make_user, assign, make_student):
    first = book(first_date=date(2026, 10, 21), start_time=t("10:00"))
    # Another therapist at the same school has the same student at 10:30.
    colleague = make_user("therapist", world.district, schools=[world.school_a])
    assign(colleague, world.own_student)
    calendar.add_availability(colleague, world.school_a, weekdays=[2], starts=t("08:00"), ends=t("16:00"), now=NOW)
    book(actor=colleague, first_date=date(2026, 10, 21), start_time=t("10:30"))
    calendar.add_time_off(world.therapist, first=date(2026, 10, 21), starts=t("11:00"), ends=t("12:00"),
                          label="Training", now=NOW)
    second = make_student(world.school_a, first_name="Second", last_name="Kid")
    with pytest.raises(BookingConflict) as refused:
        book(student=world.own_student, first_date=date(2026, 10, 21), start_time=t("10:15"), duration_minutes=90)
    [conflict] = refused.value.conflicts
    assert conflict.startswith("Wed 21 Oct 2026 at 10:15 am: ")
    assert "you already have a session with OS (10:00 am–10:30 am)" in conflict
    assert f"Own Student already has a session with {colleague.name} (10:30 am–11:00 am)" in conflict
    assert "you are on time off (Training)" in conflict
    with pytest.raises(BookingConflict) as refused:
        book(student=second, first_date=date(2026, 10, 21), start_time=t("15:45"))
    assert "outside your availability (Wednesdays 8:00 am–4:00 pm)" in refused.value.conflicts[0]
    with pytest.raises(BookingConflict, match="that time has already passed"):
        book(student=second, first_date=date(2026, 10, 20), start_time=t("08:00"))
    assert [a.id for a in db.session.scalars(select(Appointment).where(
        Appointment.therapist_id == world.therapist.id))] == [first.appointments[0].id]


def test_back_to_back_sessions_do_not_conflict(world, book, make_student):
    book(first_date=date(2026, 10, 21), start_time=t("10:00"), duration_minutes=30)
    other = make_student(world.school_a)
    book(student=other, first_date=date(2026, 10, 21), start_time=t("10:30"), duration_minutes=30)
    book(student=other, first_date=date(2026, 10, 21), start_time=t("09:30"), duration_minutes=30)
    assert _count(Appointment) == 3


def test_without_availability_booking_says_so(world, bells):
    with pytest.raises(BookingConflict, match="you have not set your availability at Alpha Elementary"):
        booking.book(world.therapist, world.own_student, first_date=date(2026, 10, 21), start_time=t("10:00"),
                     duration_minutes=30, modality="in_person", now=NOW)


def test_series_with_a_conflict_is_refused_whole_unless_the_therapist_leaves_those_dates_out(world, book,
                                                                                           make_student):
    other = make_student(world.school_a)
    book(student=other, first_date=date(2026, 11, 4), start_time=t("10:00"))
    with pytest.raises(BookingConflict) as refused:
        book(first_date=date(2026, 10, 21), start_time=t("10:00"), repeat="weekly", occurrences=4)
    assert refused.value.conflicts == ["Wed 4 Nov 2026 at 10:00 am: you already have a session with KF (10:00 am–10:30 am)."
                                       .replace("KF", other.initials)]
    assert _count(Appointment) == 1 and _count(AppointmentSeries) == 0  # nothing half-written
    result = book(first_date=date(2026, 10, 21), start_time=t("10:00"), repeat="weekly", occurrences=4,
                  skip_conflicts=True)
    assert [a.local_date for a in result.appointments] == [date(2026, 10, 21), date(2026, 10, 28), date(2026, 11, 18)]
    assert (date(2026, 11, 4), f"you already have a session with {other.initials} (10:00 am–10:30 am)") in result.left_out


@pytest.mark.parametrize(("start", "minutes", "message"), [
    ("10:03", 30, "5-minute mark"), ("10:00", None, "how many minutes"), ("10:00", 3, "between 5 and 240"),
])
def test_invalid_times_are_refused_with_what_to_fix(world, book, start, minutes, message):
    with pytest.raises(SchedulingError, match=message):
        book(first_date=date(2026, 10, 21), start_time=t(start), duration_minutes=minutes)


def test_therapist_cannot_book_at_a_school_they_do_not_serve(world, book):
    with pytest.raises(SchedulingError, match="You do not work at Alpha Middle"):
        book(student=world.school_b_student, first_date=date(2026, 10, 21))


# --- consent-gated telehealth -----------------------------------------------------------------


def test_telehealth_without_consent_is_refused_and_explains_what_is_missing(world, book):
    with pytest.raises(BookingConflict) as refused:
        book(first_date=date(2026, 10, 21), modality="telehealth")
    assert "no consent for video sessions on that date" in refused.value.conflicts[0]
    assert "no guardian of Own Student has given consent for video sessions" in refused.value.advice[0]
    assert "or book the session in person" in refused.value.advice[0]
    book(first_date=date(2026, 10, 21), modality="in_person")  # in person needs no video consent


def test_telehealth_with_a_pending_request_says_it_waits_for_a_guardian(world, book, consent_form):
    from app.consent.services import request_consent

    consent_form(world.district_admin)
    request_consent(world.therapist, world.own_student, scopes=["video_sessions"], now=NOW)
    with pytest.raises(BookingConflict) as refused:
        book(first_date=date(2026, 10, 21), modality="telehealth")
    assert "still waiting for a guardian's signature" in refused.value.advice[0]


def test_telehealth_consent_must_cover_each_occurrence_s_date(world, book, grant_consent):
    grant_consent(world.own_student, world.therapist, now=NOW, expires_on=date(2026, 11, 5))
    single = book(first_date=date(2026, 10, 21), modality="telehealth")
    assert single.appointments[0].modality == "telehealth"
    with pytest.raises(BookingConflict) as refused:
        book(first_date=date(2026, 10, 22), modality="telehealth", repeat="weekly", occurrences=5)
    # Consent lasts to the end of 5 November (its last day): 12 and 19 November are not covered.
    assert [c.split(":")[0] for c in refused.value.conflicts] == ["Thu 12 Nov 2026 at 10", "Thu 19 Nov 2026 at 10"]
    assert "Own Student's consent for video sessions ends on Thu 5 Nov 2026" in refused.value.advice[0]


def test_consent_without_video_sessions_is_named(world, book, grant_consent):
    grant_consent(world.own_student, world.therapist, now=NOW, allow=["games"])
    with pytest.raises(BookingConflict) as refused:
        book(first_date=date(2026, 10, 21), modality="telehealth")
    assert "does not include video sessions" in refused.value.advice[0]


# --- cancelling, moving, attendance -----------------------------------------------------------


def test_cancel_frees_the_time_and_needs_a_reason(world, book):
    [appointment] = book(first_date=date(2026, 10, 21)).appointments
    with pytest.raises(SchedulingError, match="short reason"):
        booking.cancel(world.therapist, appointment, party="guardian", reason=" ", now=NOW)
    booking.cancel(world.therapist, appointment, party="guardian", reason="Family trip", now=NOW)
    assert appointment.status == "cancelled" and appointment.cancelled_by_party == "guardian"
    assert appointment.cancel_reason == "Family trip" and appointment.cancelled_by_id == world.therapist.id
    assert _count(SlotClaim) == 0
    again = book(first_date=date(2026, 10, 21))  # the same slot is free
    assert again.appointments[0].id != appointment.id
    with pytest.raises(SchedulingError, match="already cancelled"):
        booking.cancel(world.therapist, appointment, party="therapist", reason="again", now=NOW)


def test_one_occurrence_of_a_series_moves_alone(world, book, make_student):
    series = book(first_date=date(2026, 10, 21), start_time=t("10:00"), repeat="weekly", occurrences=3)
    first, second, third = series.appointments
    booking.reschedule(world.therapist, second, new_date=date(2026, 10, 29), start_time=t("14:00"),
                       reason="Class field trip", now=NOW)
    assert second.local_date == date(2026, 10, 29) and _local(second).time() == t("14:00")
    assert second.duration_minutes == 30 and second.series_id == series.series.id
    assert second.reschedule_reason == "Class field trip" and second.rescheduled_at == NOW
    assert [(_local(a).date(), _local(a).time()) for a in (first, third)] == [
        (date(2026, 10, 21), t("10:00")), (date(2026, 11, 4), t("10:00"))]
    claims = db.session.scalars(select(SlotClaim.slot_start).where(SlotClaim.appointment_id == second.id)).all()
    assert min(claims).astimezone(LA) == datetime(2026, 10, 29, 14, 0, tzinfo=LA)
    # The old slot of the moved session is free; the others' are not.
    other = make_student(world.school_a)
    book(student=other, first_date=date(2026, 10, 28), start_time=t("10:00"))
    with pytest.raises(BookingConflict, match="you already have a session"):
        booking.reschedule(world.therapist, second, new_date=date(2026, 11, 4), start_time=t("10:15"),
                           reason="Try", now=NOW)
    # Moving by a few minutes overlaps only itself: allowed.
    booking.reschedule(world.therapist, first, new_date=date(2026, 10, 21), start_time=t("10:10"), reason="Bell",
                       now=NOW)
    assert _local(first).time() == t("10:10")


def test_attendance_after_the_session(world, book):
    [appointment] = book(first_date=date(2026, 10, 21)).appointments
    during = appointment.starts_at + timedelta(minutes=5)
    with pytest.raises(SchedulingError, match="once the session has started"):
        booking.record_attendance(world.therapist, appointment, attendance="attended", minutes_delivered=30, now=NOW)
    with pytest.raises(SchedulingError, match="minutes delivered"):
        booking.record_attendance(world.therapist, appointment, attendance="attended", minutes_delivered=None,
                                  now=during)
    booking.record_attendance(world.therapist, appointment, attendance="attended", minutes_delivered=25, now=during)
    assert appointment.status == "completed" and appointment.minutes_delivered == 25
    booking.record_attendance(world.therapist, appointment, attendance="cancelled_student", minutes_delivered=None,
                              now=during)
    assert appointment.status == "cancelled" and appointment.cancelled_by_party == "student"
    assert appointment.minutes_delivered == 0
    booking.record_attendance(world.therapist, appointment, attendance="no_show", minutes_delivered=None, now=during)
    assert appointment.status == "completed" and appointment.attendance == "no_show"
    assert appointment.cancelled_by_party is None


def test_changes_are_audited_without_free_text(world, book):
    [appointment] = book(first_date=date(2026, 10, 21)).appointments
    booking.cancel(world.therapist, appointment, party="therapist", reason="Sick day for me", now=NOW)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action.startswith("schedule."))
                                .order_by(AuditEvent.id)).all()
    actions = [e.action for e in events]
    assert actions[-2:] == ["schedule.booked", "schedule.cancelled"]
    assert events[-1].student_id == world.own_student.id and events[-1].details == {"by": "therapist"}
    assert all("Sick day" not in str(e.details) for e in events)
