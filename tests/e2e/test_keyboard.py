"""The student's side of a live session by keyboard alone, in two browsers.

The student's page is driven only with `page.keyboard` (and `goto` to open the join page, as a
student typing the address would): no clicks, no mouse, no touch. An init script counts pointer
events on the student's page and the test fails if there was any. The therapist's page uses
clicks (starting activities and taking the therapist's turns is not under test here).

Covered: join by code (type it, Enter), the assent screen, the waiting room, then in the call the
mute, camera and leave controls by Tab with a visible focus indicator, the Leave dialog (focus
moves in, Escape closes it, focus comes back), focus order and no keyboard trap, and every game:
tic-tac-toe to a win, connect four (a column by arrow keys), memory match (a card), feelings cards
(draw a card), the drawing board (arrow keys move the pen, Space puts it down and lifts it) and the
mood check-in (a face).
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from tests.e2e.conftest import DEFAULT_TIMEOUT_MS
from tests.e2e.helpers import THERAPIST

STUDENT = "demo-s-005"  # Mia Kim: Priya Raman's caseload, with video, games and mood consent
MAX_TABS = 60  # more Tab presses than any student page has stops: reaching the limit means lost or trapped focus

# Counted in sessionStorage, so the count survives the student's page loads (same tab, same origin).
# A `click` with detail 0 is what Enter or Space on a button fires; detail > 0 comes from a pointer.
COUNT_POINTER_EVENTS = """
for (const type of ['pointerdown', 'mousedown', 'click', 'touchstart']) {
  window.addEventListener(type, (e) => {
    if (e.isTrusted && (type !== 'click' || e.detail > 0)) {
      sessionStorage.setItem('pointerEvents', String(Number(sessionStorage.getItem('pointerEvents') || 0) + 1));
    }
  }, true);
}
"""

# True, or why the focused element's indicator is not enough: it must be :focus-visible with an
# outline of 2px or more whose colour has 3:1 contrast against what it is drawn on (WCAG 2.4.7, 1.4.11).
FOCUS_IS_VISIBLE = """el => {
  if (el !== document.activeElement || !el.matches(':focus-visible')) return 'not :focus-visible';
  const s = getComputedStyle(el);
  if (s.outlineStyle === 'none' || parseFloat(s.outlineWidth) < 2) return 'no outline of 2px or more';
  const rgba = (c) => { const v = c.match(/[\\d.]+/g).map(Number); return v.length === 3 ? [...v, 1] : v; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                       return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  // An outline drawn inside the element (negative offset) sits on the element; otherwise on what is behind it.
  let node = parseFloat(s.outlineOffset) < 0 ? el : el.parentElement;
  let behind = [255, 255, 255, 1];
  for (; node; node = node.parentElement) {
    const c = rgba(getComputedStyle(node).backgroundColor);
    if (c[3] > 0) { behind = c; break; }
  }
  const a = lum(rgba(s.outlineColor)), b = lum(behind);
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  return ratio >= 3 ? true : `outline contrast ${ratio.toFixed(2)}:1 (needs 3:1)`;
}"""


@pytest.fixture(scope="module")
def demo_app(demo_database_url, live_server):
    from app import create_app
    from app.extensions import db
    from config import TestConfig

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=demo_database_url)
    yield app
    with app.app_context():
        db.engine.dispose()


def _session_now(app) -> int:
    from app.auth.models import User
    from app.db_types import utcnow
    from app.districts.models import Student
    from app.extensions import db
    from app.scheduling.models import Appointment

    with app.app_context():
        student = db.session.scalar(select(Student).where(Student.source_id == STUDENT))
        therapist = db.session.scalar(select(User).where(User.email == THERAPIST))
        start = utcnow().replace(second=0, microsecond=0)
        appointment = Appointment(
            district_id=student.district_id, school_id=student.school_id, therapist_id=therapist.id,
            student_id=student.id, starts_at=start, ends_at=start + timedelta(minutes=45),
            local_date=start.astimezone(ZoneInfo(student.school.timezone)).date(), modality="telehealth",
            status="scheduled", created_by_id=therapist.id)
        db.session.add(appointment)
        db.session.commit()
        return appointment.id


def _wait_for(page: Page, expression: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression!r} on {page.url}"
        page.wait_for_timeout(100)


def _has_focus(target: Locator) -> bool:
    return target.evaluate_all("els => els.includes(document.activeElement)")


def tab_to(page: Page, target: Locator, *, backwards: bool = False) -> list[str]:
    """Press Tab (or Shift+Tab) until one of `target`'s elements has focus; return what focus passed.
    Fails if focus never gets there (unreachable, or trapped elsewhere) or shows no focus indicator."""
    passed = []
    for _ in range(MAX_TABS):
        if _has_focus(target):
            break
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        passed.append(page.evaluate("() => { const e = document.activeElement;"
                                    " return e ? (e.id || e.getAttribute('aria-label') || e.textContent.trim()"
                                    " || e.tagName).slice(0, 40) : ''; }"))
    else:
        raise AssertionError(f"{MAX_TABS} Tab presses never reached {target}; focus went through {passed}")
    verdict = page.locator(":focus").evaluate(FOCUS_IS_VISIBLE)
    assert verdict is True, f"focus indicator on {passed[-1:]!r} at {page.url}: {verdict}"
    return passed


#: The therapist's controls are rate-limited per socket (Start: 5 at once, then 1 a second). This
#: test switches activities faster than a person does (its six starts took 1.3 s here, and the
#: sixth was refused when they took under a second): it starts them a second apart.
START_PACE_S = 1.0
_last_start: dict[int, float] = {}


def _start(therapist: Page, activity: str) -> None:
    wait = _last_start.get(id(therapist), 0.0) + START_PACE_S - time.monotonic()
    if wait > 0:
        therapist.wait_for_timeout(wait * 1000)
    _last_start[id(therapist)] = time.monotonic()
    therapist.get_by_label("Activity", exact=True).select_option(label=activity)
    therapist.get_by_role("radio", name="Student").check()
    therapist.get_by_role("button", name="Start", exact=True).click()
    try:
        expect(therapist.locator("#games-board-title")).to_have_text(activity)
    except AssertionError as error:
        said = therapist.evaluate("() => [document.getElementById('games-error').textContent, "
                                  "document.getElementById('games-status').textContent, "
                                  "document.getElementById('games').dataset.connected]")
        raise AssertionError(f"{error}\nerror box, status, connected: {said}") from None


def _cell(p: Page, row: int, column: int) -> Locator:
    return p.get_by_role("button", name=re.compile(rf"^Row {row}, column {column}:"))


@pytest.fixture
def student(browser, live_server, browser_errors):
    context = browser.new_context(base_url=live_server.base_url, locale="en-US", timezone_id="UTC")
    context.grant_permissions(["camera", "microphone"], origin=live_server.base_url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    browser_errors.watch(context)
    context.add_init_script(COUNT_POINTER_EVENTS)
    page = context.new_page()
    yield page
    context.close()


def test_student_joins_and_plays_every_game_by_keyboard_alone(page, student, base_url, sign_in_as, demo_app):
    therapist = page
    appointment_id = _session_now(demo_app)
    sign_in_as(THERAPIST)
    therapist.goto(f"{base_url}/schedule/appointments/{appointment_id}")
    therapist.get_by_role("button", name="Open the video room").click()
    code = therapist.locator("#join-code").inner_text().strip()

    # Join: the code box has focus on arrival; type the code and press Enter.
    student.goto(base_url + "/join")
    expect(student.get_by_label("Your code")).to_be_focused()
    student.keyboard.type(code.lower())
    student.keyboard.press("Enter")

    # Assent: Tab reaches "Yes, I'm ready" before "Not right now" (header first, then the page).
    expect(student.get_by_role("heading", level=1, name=re.compile(r"^Hi!"))).to_be_visible()
    passed = tab_to(student, student.get_by_role("button", name="Yes, I'm ready"))
    assert "Skip to main content" in passed[0], passed
    student.keyboard.press("Enter")

    # Waiting room: nothing to operate; the page itself stays reachable by keyboard (no trap).
    expect(student.get_by_role("heading", name="You're in the waiting room")).to_be_visible()
    _wait_for(student, "() => window.homeroomWaiting && window.homeroomWaiting.socketConnected")
    tab_to(student, student.get_by_role("link", name="Skip to main content"))
    therapist.get_by_role("button", name="Admit").click()
    expect(student).to_have_url(re.compile(r"/sessions/rooms/\d+$"))
    for p in (therapist, student):
        expect(p.locator("#games")).to_have_attribute("data-connected", "true", timeout=15_000)

    # The call controls, in order, each with a visible focus indicator.
    mute = student.get_by_role("button", name="Mute")
    tab_to(student, mute)
    student.keyboard.press("Enter")
    expect(student.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")
    student.keyboard.press("Tab")
    expect(student.get_by_role("button", name="Turn camera off")).to_be_focused()
    student.keyboard.press("Space")
    expect(student.locator("#camera")).to_have_attribute("aria-pressed", "true")
    student.keyboard.press("Space")
    expect(student.locator("#camera")).to_have_attribute("aria-pressed", "false")
    leave = student.get_by_role("button", name="Leave")
    # Next is Leave (or first "Turn on sound", when the browser blocked the counselor's audio).
    between = tab_to(student, leave)
    assert between in (["leave"], ["play-audio", "leave"]), between
    # Leave asks first, in a dialog: focus moves in, Escape closes it and focus comes back.
    student.keyboard.press("Enter")
    dialog = student.get_by_role("dialog", name="Leave the session?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Stay")).to_be_focused()
    student.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(leave).to_be_focused()
    # Then the chat, and on to the activities; Shift+Tab goes back the same way.
    tab_to(student, student.get_by_label("Message"))
    student.keyboard.type("Hello!")
    student.keyboard.press("Enter")
    expect(therapist.locator("#chat-log")).to_contain_text("Student: Hello!")
    back = tab_to(student, leave, backwards=True)
    assert len(back) <= 3, back
    # No trap: Tab from here runs through the page and comes back round to the skip link.
    tab_to(student, student.get_by_role("link", name="Skip to main content"))

    # Tic-tac-toe, played to a win. The board is one tab stop; arrow keys move, Enter plays.
    _start(therapist, "Tic-Tac-Toe")
    expect(student.locator("[data-turn]")).to_have_text("Your turn!")
    tab_to(student, student.locator("#games-board .ttt button"))
    expect(_cell(student, 1, 1)).to_be_focused()
    student.keyboard.press("Enter")
    expect(_cell(therapist, 1, 1)).to_have_accessible_name("Row 1, column 1: X, student")
    _cell(therapist, 2, 1).click()
    expect(student.locator("[data-turn]")).to_have_text("Your turn!")
    student.keyboard.press("ArrowRight")
    expect(_cell(student, 1, 2)).to_be_focused()
    student.keyboard.press("Enter")
    expect(_cell(therapist, 1, 2)).to_have_accessible_name("Row 1, column 2: X, student")
    _cell(therapist, 2, 2).click()
    expect(student.locator("[data-turn]")).to_have_text("Your turn!")
    student.keyboard.press("ArrowRight")
    student.keyboard.press("Enter")
    expect(student.locator("[data-result]")).to_have_text(re.compile("You won!"))
    expect(therapist.locator("[data-result]")).to_have_text(re.compile("The student won!"))

    # Connect four: Tab to the column buttons, arrow right to column 4, Enter drops the disc.
    _start(therapist, "Connect Four")
    expect(student.locator("[data-turn]")).to_have_text("Your turn!")
    tab_to(student, student.locator("#games-board .c4__drop"))
    for _ in range(3):
        student.keyboard.press("ArrowRight")
    expect(student.get_by_role("button", name=re.compile(r"^Column 4:"))).to_be_focused()
    student.keyboard.press("Enter")
    expect(therapist.get_by_role("button", name=re.compile(r"^Column 4:"))).to_have_accessible_name(
        re.compile(r"^Column 4: from the bottom student; 5 spaces left"))

    # Memory match: Enter turns over the focused card.
    _start(therapist, "Memory Match")
    tab_to(student, student.locator("#games-board .memory button"))
    student.keyboard.press("ArrowDown")
    expect(student.get_by_role("button", name=re.compile(r"^Card 5:"))).to_be_focused()
    student.keyboard.press("Enter")
    expect(therapist.get_by_role("button", name=re.compile(r"^Card 5:"))).not_to_have_accessible_name(
        re.compile(r"face down", re.IGNORECASE))

    # Feelings cards: "Draw a card" by Enter shows a card on both pages.
    _start(therapist, "Feelings Cards")
    tab_to(student, student.get_by_role("button", name="Draw a card"))
    student.keyboard.press("Enter")
    expect(therapist.locator("[data-card]")).not_to_have_attribute("data-card", "")
    expect(student.locator("[data-card]")).to_have_attribute("data-card", therapist.locator("[data-card]")
                                                              .get_attribute("data-card"))

    # Drawing board: focus the board, Space puts the pen down, arrows draw, Space lifts it.
    _start(therapist, "Drawing Board")
    tab_to(student, student.locator("canvas.draw__canvas"))
    student.keyboard.press("Space")
    for key in ("ArrowRight", "ArrowRight", "ArrowDown", "ArrowDown"):
        student.keyboard.press(key)
    student.keyboard.press("Space")
    expect(therapist.locator("canvas.draw__canvas")).to_have_attribute("data-strokes", "1")
    expect(therapist.locator("[data-draw-summary]")).to_have_text(
        "1 line on the board: 0 by you, 1 by the student.")

    # Mood check-in: arrow keys move between the faces, Enter picks one.
    _start(therapist, "Mood Check-in")
    tab_to(student, student.locator("#games-board .mood button"))
    student.keyboard.press("End")
    expect(student.get_by_role("button", name=re.compile("Very happy"))).to_be_focused()
    student.keyboard.press("Enter")
    expect(therapist.get_by_text("Start: 😄 Very happy")).to_be_visible()

    # Leaving, by keyboard: the dialog's Leave link takes the student to the join page, which says so.
    tab_to(student, leave)
    student.keyboard.press("Enter")
    tab_to(student, student.get_by_role("dialog").get_by_role("link", name="Leave"))
    student.keyboard.press("Enter")
    expect(student.get_by_role("status").filter(has_text="You left your session")).to_be_visible()
    expect(therapist.locator("#call-status")).to_contain_text("left")

    assert student.evaluate("sessionStorage.getItem('pointerEvents')") is None, "the student's page saw a pointer event"
