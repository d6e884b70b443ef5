"""Scheduling through HTTP: the acceptance flow (bell schedule, availability, a weekly series by class
period, a refused conflict with its reason, cancelling one occurrence, attendance), who may do what,
CSRF, and GET changing nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db_types import utcnow
from app.extensions import db
from app.scheduling import booking, calendar
from app.scheduling.models import Appointment, BellSchedule, CalendarFeed, GuardianReminderPreference
from app.scheduling.services import local_today
from tests.conftest import login, post
from tests.integration.scheduling.conftest import t


def _next_monday():
    today = local_today(utcnow(), "America/Los_Angeles")
    return today + timedelta(days=(7 - today.weekday()) % 7 or 7)


def _client(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_school_admin_therapist_and_a_weekly_series_by_class_period(app, world):
    admin = _client(app, world.school_admin)
    response = post(admin, f"/schedule/schools/{world.school_a.id}/bell-schedules",
                    {"name": "Regular day", "copy_from": "0"})
    schedule = db.session.scalar(select(BellSchedule).where(BellSchedule.school_id == world.school_a.id))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/bell-schedules/{schedule.id}")
    response = post(admin, f"/schedule/bell-schedules/{schedule.id}/periods",
                    {"name": "Period 3", "weekdays": ["0", "1", "2", "3", "4"], "starts": "09:52", "ends": "10:40"})
    assert response.status_code == 302
    page = admin.get(f"/schedule/bell-schedules/{schedule.id}").get_data(as_text=True)
    assert "Period 3" in page and "9:52 am–10:40 am" in page

    therapist = _client(app, world.therapist)
    response = post(therapist, "/schedule/availability", {"school": str(world.school_a.id),
                                                           "weekdays": ["0", "1", "2", "3", "4"],
                                                           "starts": "08:00", "ends": "15:00"})
    assert response.status_code == 302
    assert "Monday" in therapist.get("/schedule/availability").get_data(as_text=True)

    monday = _next_monday()
    form = {"student": str(world.own_student.id), "first_date": monday.isoformat(), "start_by": "period",
            "period": "Period 3", "modality": "in_person", "repeat": "weekly", "ends": "count", "occurrences": "4"}
    page = therapist.get("/schedule/book").get_data(as_text=True)
    assert 'value="Period 3"' in page and "Own Student (Alpha Elementary)" in page
    response = post(therapist, "/schedule/book", form, token_from="/schedule/book")
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    sessions = db.session.scalars(select(Appointment).order_by(Appointment.starts_at)).all()
    assert len(sessions) == 4 and {s.period_name for s in sessions} == {"Period 3"}
    assert [s.local_date for s in sessions] == [monday + timedelta(weeks=i) for i in range(4)]
    week = therapist.get(response.headers["Location"]).get_data(as_text=True)
    assert "Booked 4 sessions with Own Student." in week and "9:55 am–10:40 am" in week

    # The same slot again: refused, and the page says why.
    response = post(therapist, "/schedule/book", {**form, "occurrences": "2"}, token_from="/schedule/book")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "We could not book this" in body
    assert "you already have a session with OS (9:55 am–10:40 am)" in body
    assert _count(Appointment) == 4

    # Cancel one occurrence; the rest of the series stays.
    second = sessions[1]
    response = post(therapist, f"/schedule/appointments/{second.id}/cancel",
                    {"party": "student", "reason": "Class field trip"})
    assert response.status_code == 302
    db.session.expire_all()
    assert [s.status for s in sessions] == ["scheduled", "cancelled", "scheduled", "scheduled"]
    assert "Cancelled the session" in therapist.get(response.headers["Location"]).get_data(as_text=True)


def test_therapist_records_attendance_after_a_session(app, world, bells, available):
    starts = utcnow().replace(second=0, microsecond=0) - timedelta(hours=2)
    session = Appointment(district_id=world.district.id, school_id=world.school_a.id, therapist_id=world.therapist.id,
                          student_id=world.own_student.id, starts_at=starts, ends_at=starts + timedelta(minutes=30),
                          local_date=local_today(starts, "America/Los_Angeles"),
                          modality="in_person", status="scheduled", created_by_id=world.therapist.id)
    db.session.add(session)
    db.session.commit()
    therapist = _client(app, world.therapist)
    week = therapist.get("/schedule/").get_data(as_text=True)
    assert "Attendance to record" in week and f"/schedule/appointments/{session.id}" in week
    page = therapist.get(f"/schedule/appointments/{session.id}").get_data(as_text=True)
    assert "Record attendance" in page and "Cancel this session" not in page
    response = post(therapist, f"/schedule/appointments/{session.id}/attendance", {"attendance": "attended"})
    assert response.status_code == 200 and "Enter the minutes delivered" in response.get_data(as_text=True)
    response = post(therapist, f"/schedule/appointments/{session.id}/attendance",
                    {"attendance": "attended", "minutes": "28"})
    assert response.status_code == 302
    db.session.expire_all()
    assert (session.status, session.attendance, session.minutes_delivered) == ("completed", "attended", 28)


def test_a_conflict_on_a_refused_telehealth_booking_says_what_consent_is_missing(app, world, bells, available):
    therapist = _client(app, world.therapist)
    response = post(therapist, "/schedule/book", {
        "student": str(world.own_student.id), "first_date": _next_monday().isoformat(), "start_by": "time",
        "start_time": "10:00", "duration": "30", "modality": "telehealth", "repeat": "none"},
        token_from="/schedule/book")
    body = response.get_data(as_text=True)
    assert "no consent for video sessions on that date" in body
    assert "no guardian of Own Student has given consent for video sessions" in body
    assert _count(Appointment) == 0


def test_therapist_cannot_book_for_a_student_off_their_caseload(app, world, bells, available):
    therapist = _client(app, world.therapist)
    for student in (world.other_student, world.foreign_student):
        response = post(therapist, "/schedule/book", {
            "student": str(student.id), "first_date": _next_monday().isoformat(), "start_by": "time",
            "start_time": "10:00", "duration": "30", "modality": "in_person", "repeat": "none"},
            token_from="/schedule/book")
        assert response.status_code == 200 and "Not a valid choice" in response.get_data(as_text=True)
    assert _count(Appointment) == 0
    assert "Other Student" not in therapist.get("/schedule/book").get_data(as_text=True)


@pytest.fixture
def own_session(world, bells, available):
    return booking.book(world.therapist, world.own_student, first_date=_next_monday(), start_time=t("10:00"),
                        duration_minutes=30, modality="in_person").appointments[0]


def test_other_caseloads_and_other_districts_cannot_see_or_change_a_session(app, world, own_session, make_user):
    colleague = make_user("therapist", world.district, schools=[world.school_a])
    for user in (world.other_therapist, colleague, world.foreign_therapist, world.foreign_admin):
        client = _client(app, user)
        assert client.get(f"/schedule/appointments/{own_session.id}").status_code == 404
        if user.role == "therapist":
            for action in ("cancel", "reschedule", "attendance"):
                response = post(client, f"/schedule/appointments/{own_session.id}/{action}",
                                {"party": "therapist", "reason": "Not mine"})
                assert response.status_code == 404
        assert "Own Student" not in client.get("/schedule/").get_data(as_text=True)
    db.session.expire_all()
    assert own_session.status == "scheduled"


def test_school_admin_can_cancel_but_not_move_a_session(app, world, own_session):
    admin = _client(app, world.school_admin)
    page = admin.get(f"/schedule/appointments/{own_session.id}").get_data(as_text=True)
    assert "Cancel this session" in page and "Move or change" not in page
    assert post(admin, f"/schedule/appointments/{own_session.id}/reschedule", {}).status_code == 403
    response = post(admin, f"/schedule/appointments/{own_session.id}/cancel",
                    {"party": "school", "reason": "Fire drill"})
    assert response.status_code == 302
    db.session.expire_all()
    assert own_session.status == "cancelled" and own_session.cancelled_by_party == "school"
    sessions = admin.get(f"/schedule/schools/{world.school_a.id}?week={own_session.local_date.isoformat()}")
    assert "Own Student" in sessions.get_data(as_text=True)


def test_guardian_sees_their_child_s_sessions_only(app, world, own_session, make_user, link_guardian):
    guardian = _client(app, world.guardian)
    page = guardian.get("/schedule/family").get_data(as_text=True)
    assert "Own Student" in page and "In person at school" in page and "10:00 am–10:30 am" in page
    assert "Upcoming sessions" in guardian.get("/home").get_data(as_text=True)
    restricted = make_user("guardian", world.district)
    link_guardian(restricted, world.own_student, restricted=True)
    other = _client(app, restricted)
    assert "10:00 am" not in other.get("/schedule/family").get_data(as_text=True)


def test_guardian_page_in_spanish(app, world, own_session):
    world.guardian.preferred_language = "es"
    db.session.commit()
    page = _client(app, world.guardian).get("/schedule/family").get_data(as_text=True)
    assert "Próximas sesiones" in page and "En persona en la escuela" in page and "10:00–10:30" in page
    assert "lunes" in page


def test_guardian_opts_in_to_reminders(app, world):
    guardian = _client(app, world.guardian)
    assert post(guardian, "/schedule/family/reminders", {"enabled": "y"}).status_code == 302
    assert db.session.scalar(select(GuardianReminderPreference.enabled)) is True
    post(guardian, "/schedule/family/reminders", {})
    db.session.expire_all()
    assert db.session.scalar(select(GuardianReminderPreference.enabled)) is False


def test_posts_need_a_csrf_token_and_gets_change_nothing(app, world, own_session):
    therapist = _client(app, world.therapist)
    response = therapist.post(f"/schedule/appointments/{own_session.id}/cancel",
                              data={"party": "therapist", "reason": "No token"})
    assert response.status_code == 400
    assert therapist.post("/schedule/feed/regenerate").status_code == 400
    assert therapist.get("/schedule/feed/regenerate").status_code == 405
    assert therapist.get(f"/schedule/appointments/{own_session.id}/cancel").status_code == 405
    therapist.get("/schedule/feed")
    assert _count(CalendarFeed) == 0
    db.session.expire_all()
    assert own_session.status == "scheduled"


def test_therapist_reads_but_does_not_edit_the_bell_schedule(app, world, bells):
    therapist = _client(app, world.therapist)
    page = therapist.get(f"/schedule/schools/{world.school_a.id}/calendar").get_data(as_text=True)
    assert "Regular day" in page and "Add a bell schedule" not in page
    assert post(therapist, f"/schedule/bell-schedules/{bells['regular'].id}/periods",
                {"name": "X", "weekdays": ["0"], "starts": "08:00", "ends": "09:00"}).status_code == 403
    assert len(calendar.schedules(world.school_a.id)) == 2
