"""Games beside the call, in two browsers: the therapist's page and the student's page in one room.

As in production: the therapist opens the room from the session's page, the student joins with
the room's code and says they are ready, the therapist admits them from the waiting list. Only
the session itself (a telehealth appointment starting now) is made directly in the database.
"""

from __future__ import annotations

import contextlib
import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.e2e.helpers import THERAPIST, assert_accessible

STUDENT_ROSTER_ID = "demo-s-005"  # on the demo therapist's caseload, with video, games and mood consent


def _with_app(database_url: str, work):
    from app import create_app
    from app.extensions import db
    from config import TestConfig

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        try:
            return work()
        finally:
            db.session.remove()
            db.engine.dispose()


def _session_now(database_url: str) -> int:
    """A telehealth session starting now for the demo therapist and student; its id."""

    def work():
        from sqlalchemy import select

        from app.auth.models import User
        from app.districts.models import Student
        from app.extensions import db
        from app.scheduling.models import Appointment

        therapist = db.session.scalar(select(User).where(User.email == THERAPIST))
        student = db.session.scalar(select(Student).where(Student.source_id == STUDENT_ROSTER_ID))
        starts = datetime.now(UTC).replace(second=0, microsecond=0)
        appointment = Appointment(
            district_id=student.district_id, school_id=student.school_id, therapist_id=therapist.id,
            student_id=student.id, starts_at=starts, ends_at=starts + timedelta(minutes=45),
            local_date=starts.astimezone(ZoneInfo("America/Los_Angeles")).date(), modality="telehealth",
            status="scheduled", created_by_id=therapist.id)
        db.session.add(appointment)
        db.session.commit()
        return appointment.id

    return _with_app(database_url, work)


def _wait_for(page: Page, expression: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression!r} on {page.url}"
        page.wait_for_timeout(100)


@pytest.fixture
def student_page(browser, live_server, browser_errors):
    """A second browser (its own cookies) for the student, watched for errors like `page`."""
    context = browser.new_context(base_url=live_server.base_url, locale="en-US", timezone_id="UTC")
    context.grant_permissions(["camera", "microphone"], origin=live_server.base_url)
    context.set_default_timeout(10_000)
    browser_errors.watch(context)
    page = context.new_page()
    yield page
    with contextlib.suppress(PlaywrightError):  # closed or navigating: nothing more to deliver
        page.evaluate("0")
    context.close()
    unexpected = browser_errors.unexpected()
    assert not unexpected, "The student's browser reported errors:\n" + "\n".join(unexpected)


@pytest.fixture
def both_in_room(page, student_page, base_url, sign_in_as, demo_database_url):
    appointment_id = _session_now(demo_database_url)
    sign_in_as(THERAPIST)
    page.goto(f"{base_url}/schedule/appointments/{appointment_id}")
    page.get_by_role("button", name="Open the video room").click()
    expect(page).to_have_url(re.compile(r"/sessions/rooms/\d+$"))
    code = page.locator("#join-code").inner_text().strip()

    student_page.goto(base_url + "/join")
    student_page.get_by_label("Your code").fill(code)
    student_page.get_by_role("button", name="Join", exact=True).click()
    if student_page.url.endswith("/ready"):  # a student already asked today is not asked again
        student_page.get_by_role("button", name="Yes, I'm ready").click()
    expect(student_page.get_by_role("heading", name="You're in the waiting room")).to_be_visible()
    _wait_for(student_page, "() => window.homeroomWaiting && window.homeroomWaiting.socketConnected")
    page.get_by_role("button", name="Admit").click()
    expect(student_page).to_have_url(re.compile(r"/sessions/rooms/\d+$"))
    for p in (page, student_page):
        expect(p.locator("#games")).to_have_attribute("data-connected", "true", timeout=15_000)
    return page, student_page


def _cell(p: Page, row: int, column: int):
    return p.get_by_role("button", name=re.compile(rf"^Row {row}, column {column}:"))


def _start(therapist: Page, activity: str, first: str) -> None:
    therapist.get_by_label("Activity", exact=True).select_option(label=activity)
    therapist.get_by_role("radio", name=first).check()
    therapist.get_by_role("button", name="Start", exact=True).click()


def test_therapist_and_student_can_play_tic_tac_toe_to_a_win_and_draw_together(both_in_room):
    therapist, student = both_in_room
    _start(therapist, "Tic-Tac-Toe", "You")
    for p in (therapist, student):
        expect(p.locator("#games-board-title")).to_have_text("Tic-Tac-Toe")
    expect(student.locator("[data-turn]")).to_have_text(re.compile("Waiting for the therapist"))
    assert_accessible(therapist)
    assert_accessible(student)

    # The therapist (X) takes the top row; the student (O) plays the middle row.
    for p, (row, column) in [(therapist, (1, 1)), (student, (2, 1)), (therapist, (1, 2)), (student, (2, 2))]:
        _cell(p, row, column).click()
        for q in (therapist, student):
            expect(_cell(q, row, column)).not_to_have_accessible_name(re.compile("empty$"))
    # The last move by keyboard: the board is one tab stop; arrow keys move, Enter plays.
    _cell(therapist, 1, 2).focus()
    therapist.keyboard.press("ArrowRight")
    expect(_cell(therapist, 1, 3)).to_be_focused()
    therapist.keyboard.press("Enter")

    expect(therapist.locator("[data-result]")).to_have_text(re.compile("You won!"))
    expect(student.locator("[data-result]")).to_have_text(re.compile("The therapist won this time"))
    expect(_cell(student, 1, 3)).to_have_accessible_name("Row 1, column 3: X, therapist, winning line")

    # A stroke drawn on the student's page appears on the therapist's.
    _start(therapist, "Drawing Board", "Student")
    canvas = student.locator("canvas.draw__canvas")
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    student.mouse.move(box["x"] + 40, box["y"] + 40)
    student.mouse.down()
    for step in range(1, 8):
        student.mouse.move(box["x"] + 40 + step * 20, box["y"] + 40 + step * 10)
    student.mouse.up()
    expect(therapist.locator("canvas.draw__canvas")).to_have_attribute("data-strokes", "1")
    expect(therapist.locator("[data-draw-summary]")).to_have_text("1 line on the board: 0 by you, 1 by the student.")
    # The therapist draws with the keyboard: Space puts the pen down, arrows draw, Space lifts it.
    therapist.locator("canvas.draw__canvas").focus()
    therapist.keyboard.press("Space")
    for key in ("ArrowRight", "ArrowRight", "ArrowDown"):
        therapist.keyboard.press(key)
    therapist.keyboard.press("Space")
    expect(student.locator("canvas.draw__canvas")).to_have_attribute("data-strokes", "2")
    expect(student.locator("[data-draw-summary]")).to_have_text("2 lines on the board: 1 by you, 1 by the therapist.")


def test_student_reload_restores_the_game(both_in_room):
    therapist, student = both_in_room
    _start(therapist, "Tic-Tac-Toe", "Student")
    _cell(student, 2, 2).click()
    expect(_cell(therapist, 2, 2)).to_have_accessible_name("Row 2, column 2: X, student")
    _cell(therapist, 1, 1).click()
    expect(_cell(student, 1, 1)).to_have_accessible_name("Row 1, column 1: O, therapist")

    student.reload()
    expect(student.locator("#games")).to_have_attribute("data-connected", "true", timeout=15_000)
    expect(_cell(student, 2, 2)).to_have_accessible_name("Row 2, column 2: X, you")
    expect(_cell(student, 1, 1)).to_have_accessible_name("Row 1, column 1: O, therapist")
    expect(student.locator("[data-turn]")).to_have_text("Your turn!")
    _cell(student, 3, 3).click()
    expect(_cell(therapist, 3, 3)).to_have_accessible_name("Row 3, column 3: X, student")


def test_student_mood_check_in_shows_in_the_therapist_trend(both_in_room, base_url, demo_database_url):
    therapist, student = both_in_room
    _start(therapist, "Mood Check-in", "Student")
    expect(student.get_by_text("How are you feeling right now, at the start?")).to_be_visible()
    student.get_by_role("button", name="Very happy").click()
    expect(therapist.get_by_text("Start: 😄 Very happy")).to_be_visible()
    expect(student.get_by_text("Thanks for checking in!")).to_be_visible()

    student_id = _with_app(demo_database_url, _student_id)
    trend = therapist.context.new_page()
    trend.goto(f"{base_url}/students/{student_id}/mood")
    table = trend.get_by_role("table", name="Mood at the start and end of each session, oldest first")
    expect(table.get_by_role("cell", name="5 – Very happy")).to_be_visible()
    assert_accessible(trend)
    trend.close()


def _student_id():
    from sqlalchemy import select

    from app.districts.models import Student
    from app.extensions import db

    return db.session.scalar(select(Student.id).where(Student.source_id == STUDENT_ROSTER_ID))
