"""Scheduling in a real browser, on the demo district (bell schedules, availability and a few
sessions are seeded): a school admin sets a bell schedule; a therapist sets availability, books a
weekly series by class period, sees a conflict refused with its reason, cancels one occurrence,
records attendance and subscribes to the iCal feed; a guardian sees the upcoming sessions.

Tests in this module share one seeded district (see conftest.py) and do not depend on each
other: each books for a different student.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from playwright.sync_api import expect

from tests.e2e.helpers import GUARDIAN, SCHOOL_ADMIN, THERAPIST, assert_accessible

STUDENT = "Sofia Johnson"  # on Priya Raman's caseload, no consent, no demo sessions


def _free_tuesday() -> date:
    """A Tuesday one to three weeks ahead that is a school day in the demo calendar."""
    today = datetime.now(ZoneInfo("America/Los_Angeles")).date()
    day = today + timedelta(days=7 + (1 - today.weekday()) % 7)
    fall = today.year if today.month >= 7 else today.year - 1
    while day == date(fall, 11, 11) or date(fall, 12, 21) <= day <= date(fall + 1, 1, 1):
        day += timedelta(days=7)
    return day


def test_school_admin_sets_a_bell_schedule(page, base_url, sign_in_as):
    sign_in_as(SCHOOL_ADMIN)
    page.get_by_role("link", name="School schedules").click()
    expect(page.get_by_role("heading", level=1, name="Sessions at Riverbend Elementary School")).to_be_visible()
    page.get_by_role("link", name="Bell schedules and calendar").click()
    expect(page.get_by_role("cell", name="Regular day", exact=True)).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Name", exact=True).fill("Testing day")
    page.get_by_label("Start from").select_option(label="An empty schedule")
    page.get_by_role("button", name="Add bell schedule").click()
    expect(page.get_by_text("Added the “Testing day” bell schedule.")).to_be_visible()
    page.get_by_label("Period name").fill("Testing block")
    page.get_by_label("Starts", exact=True).fill("08:30")
    page.get_by_label("Ends", exact=True).fill("11:00")
    page.get_by_role("button", name="Save period").click()
    expect(page.get_by_text("Saved Testing block.")).to_be_visible()
    row = page.get_by_role("row", name=re.compile("Testing block"))
    expect(row).to_contain_text("8:30 am–11:00 am")
    assert_accessible(page)


def test_therapist_books_a_weekly_series_by_period_sees_a_conflict_and_cancels_one(page, base_url, sign_in_as):
    sign_in_as(THERAPIST)
    # Availability: one more hour on Mondays.
    page.get_by_role("link", name="Schedule", exact=True).click()
    page.get_by_role("link", name="Availability").click()
    for day in ("Tuesday", "Wednesday", "Thursday", "Friday"):
        page.get_by_label(day, exact=True).uncheck()
    page.get_by_label("From", exact=True).fill("15:00")
    page.get_by_label("To", exact=True).fill("16:00")
    page.get_by_role("button", name="Add availability").click()
    expect(page.get_by_text("Availability added.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"Monday 3:00 pm–4:00 pm"))).to_be_visible()

    # A weekly series of three, in Period 4, chosen by class period.
    first = _free_tuesday()
    page.get_by_role("link", name="Book a session").click()
    expect(page.get_by_label("Class period", exact=True)).to_be_hidden()  # shown only when booking by period
    page.get_by_label("Student", exact=True).select_option(label=f"{STUDENT} (Riverbend Elementary School)")
    page.get_by_label("Date", exact=True).fill(first.isoformat())
    page.get_by_label("During a class period").check()
    expect(page.get_by_label("Start time", exact=True)).to_be_hidden()
    page.get_by_label("Class period", exact=True).select_option("Period 4")
    page.get_by_label("In person", exact=True).check()
    page.get_by_label("Every week", exact=True).check()
    page.get_by_label("Number of sessions", exact=True).fill("3")
    assert_accessible(page)
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_text(f"Booked 3 sessions with {STUDENT}.")).to_be_visible()
    day_column = page.get_by_role("region", name=re.compile(first.strftime("%A") + f" {first.day} "))
    expect(day_column.get_by_role("link", name=re.compile(STUDENT))).to_contain_text("10:45 am–11:35 am")
    assert_accessible(page)

    # The same slot again is refused, with the reason.
    page.get_by_role("link", name="Book a session").click()
    page.get_by_label("Student", exact=True).select_option(label=f"{STUDENT} (Riverbend Elementary School)")
    page.get_by_label("Date", exact=True).fill(first.isoformat())
    page.get_by_label("During a class period").check()
    page.get_by_label("Class period", exact=True).select_option("Period 4")
    page.get_by_role("button", name="Book", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("We could not book this")
    expect(alert).to_contain_text("you already have a session with SJ (10:45 am–11:35 am)")
    expect(alert).to_be_focused()
    assert_accessible(page)

    # Cancel the first occurrence only.
    page.goto(f"{base_url}/schedule/?week={first.isoformat()}")
    page.get_by_role("link", name=re.compile(STUDENT)).first.click()
    expect(page.get_by_role("heading", level=1, name=f"Session with {STUDENT}")).to_be_visible()
    cancel = page.get_by_role("region", name="Cancel this session")
    cancel.get_by_label("Who cancelled").select_option(label="The school")
    cancel.get_by_label("Reason (no clinical details)").fill("Class field trip")
    cancel.get_by_role("button", name="Cancel this session").click()
    expect(page.get_by_text("Cancelled the session of")).to_be_visible()
    series = page.get_by_role("table", name="Sessions of this series")
    expect(series.get_by_text("Cancelled")).to_have_count(1)
    expect(series.get_by_text("Scheduled")).to_have_count(2)


def test_therapist_records_attendance(page, base_url, sign_in_as, demo_database_url):
    appointment_id = _past_session(demo_database_url)
    sign_in_as(THERAPIST)
    page.get_by_role("link", name="Schedule", exact=True).click()
    page.get_by_role("region", name="Attendance to record").get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(rf"/schedule/appointments/{appointment_id}$"))
    page.get_by_label("Attended").check()
    page.get_by_label("Minutes delivered").fill("25")
    page.get_by_role("button", name="Save attendance").click()
    expect(page.get_by_text("Saved: Attended.")).to_be_visible()
    expect(page.get_by_role("definition").filter(has_text="25 minutes delivered")).to_be_visible()


def _past_session(database_url: str) -> int:
    """A session that ended an hour ago, as if booked last week (booking in the past is refused)."""
    from sqlalchemy import select

    from app import create_app
    from app.auth.models import User
    from app.districts.models import Student
    from app.extensions import db
    from app.scheduling.models import Appointment
    from config import TestConfig

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        therapist = db.session.scalar(select(User).where(User.email == THERAPIST))
        student = db.session.scalar(select(Student).where(Student.first_name == "Elijah", Student.last_name == "Patel"))
        starts = datetime.now(ZoneInfo("UTC")).replace(second=0, microsecond=0) - timedelta(hours=2)
        appointment = Appointment(
            district_id=student.district_id, school_id=student.school_id, therapist_id=therapist.id,
            student_id=student.id, starts_at=starts, ends_at=starts + timedelta(minutes=30),
            local_date=starts.astimezone(ZoneInfo("America/Los_Angeles")).date(), modality="in_person",
            status="scheduled", created_by_id=therapist.id)
        db.session.add(appointment)
        db.session.commit()
        appointment_id = appointment.id
        db.session.remove()
        db.engine.dispose()
    return appointment_id


def test_therapist_subscribes_to_the_private_calendar_feed(page, base_url, sign_in_as):
    sign_in_as(THERAPIST)
    page.goto(base_url + "/schedule/feed")
    expect(page.get_by_text("Your feed is off.")).to_be_visible()
    page.get_by_role("button", name="Turn on and make a private link").click()
    url = page.get_by_label(re.compile("Your new private link")).input_value()
    assert re.fullmatch(re.escape(base_url) + r"/schedule/ical/[A-Za-z0-9_-]{43}\.ics", url)
    assert_accessible(page)
    response = page.request.get(url)  # what a calendar app does (no cookies needed)
    assert response.ok and response.headers["content-type"].startswith("text/calendar")
    summaries = [str(e["summary"]) for e in Calendar.from_ical(response.body()).walk("VEVENT")]
    assert "Session L.N. (video)" in summaries  # the demo guardian's child, by initials only
    assert not any("Liam" in s or "Nguyen" in s for s in summaries)


def test_guardian_sees_upcoming_sessions(page, base_url, sign_in_as):
    sign_in_as(GUARDIAN)
    upcoming = page.get_by_role("region", name="Upcoming sessions")
    expect(upcoming.get_by_role("heading", name="Liam Nguyen")).to_be_visible()
    expect(upcoming.get_by_text("By video").first).to_be_visible()
    page.get_by_role("link", name="All sessions and reminders").click()
    page.get_by_label("Email me a reminder the day before each session").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Reminders are on.")).to_be_visible()
    assert_accessible(page)
