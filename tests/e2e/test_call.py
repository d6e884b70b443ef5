"""A live video session in two real browser windows (Chromium, fake camera and microphone).

The therapist opens the room of a telehealth session starting now, the student joins by code,
says they are ready and waits; the therapist lets them in; both reach a connected
RTCPeerConnection with inbound video; mute and chat work; the therapist ends the session and
both pages say so within 2 seconds. A second test: the guardian withdraws video consent during
the call and both pages are cut off within 2 seconds.

The sessions "starting now" are added to the demo district by a small fixture (a row, as the
permission matrix does), not by changing what the demo seed means. iceServers stay empty: the
two pages connect over the machine's own interface.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.conftest import DEFAULT_TIMEOUT_MS
from tests.e2e.helpers import GUARDIAN, THERAPIST, assert_accessible, sign_in

STUDENT_FOR_CALL = "demo-s-005"  # Mia Kim: Priya Raman's caseload, video consent in the demo
STUDENT_FOR_REVOCATION = "demo-s-002"  # Liam Nguyen: guardian James Nguyen (GUARDIAN), video consent

INBOUND_VIDEO_BYTES = """async () => {
  let bytes = 0;
  const pc = window.homeroomCall && window.homeroomCall.pc;
  if (!pc) return 0;
  (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') bytes += r.bytesReceived || 0; });
  return bytes;
}"""


@pytest.fixture(scope="module")
def demo_app(demo_database_url, live_server, tmp_path_factory):
    """The test's own view of the live server's database (to add a session starting now)."""
    from app import create_app
    from app.extensions import db
    from config import TestConfig

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=demo_database_url,
                     OUTBOX_DIR=str(tmp_path_factory.mktemp("call-outbox")))
    yield app
    with app.app_context():
        db.engine.dispose()


def _session_now(app, source_id: str) -> tuple[int, int | None]:
    """A 30-minute telehealth session of the student with their therapist, starting this minute.
    Returns (appointment id, the student's latest consent request id)."""
    from app.auth.models import User
    from app.consent.models import ConsentRequest
    from app.db_types import utcnow
    from app.districts.models import Student
    from app.extensions import db
    from app.scheduling.models import Appointment

    with app.app_context():
        student = db.session.scalar(select(Student).where(Student.source_id == source_id))
        therapist = db.session.scalar(select(User).where(User.email == THERAPIST))
        start = utcnow().replace(second=0, microsecond=0)
        appointment = Appointment(
            district_id=student.district_id, school_id=student.school_id, therapist_id=therapist.id,
            student_id=student.id, starts_at=start, ends_at=start + timedelta(minutes=30),
            local_date=start.astimezone(ZoneInfo(student.school.timezone)).date(),
            modality="telehealth", status="scheduled", created_by_id=therapist.id)
        db.session.add(appointment)
        db.session.commit()
        request_id = db.session.scalar(select(ConsentRequest.id).where(ConsentRequest.student_id == student.id)
                                       .order_by(ConsentRequest.id.desc()).limit(1))
        return appointment.id, request_id


def _wait_for(page, expression: str, timeout: float = 10.0):
    """Poll `expression` (a JS function source) with page.evaluate until it is truthy.

    page.wait_for_function evaluates strings with eval(), which the app's CSP rightly refuses.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {expression!r} on {page.url}")
        page.wait_for_timeout(100)


def _new_context(browser, live_server, browser_errors):
    context = browser.new_context(base_url=live_server.base_url, locale="en-US", timezone_id="UTC")
    context.grant_permissions(["camera", "microphone"], origin=live_server.base_url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    browser_errors.watch(context)
    return context


def _open_room(page, base_url, appointment_id: int) -> str:
    page.goto(f"{base_url}/schedule/appointments/{appointment_id}")
    page.get_by_role("button", name="Open the video room").click()
    expect(page).to_have_url(re.compile(r"/sessions/rooms/\d+$"))
    code = page.locator("#join-code").inner_text().strip()
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{6}", code), code
    return code


def _student_joins_by_code(student, base_url, code: str) -> None:
    student.goto(base_url + "/join")
    assert_accessible(student)
    student.get_by_label("Your code").fill(code.lower())
    student.get_by_role("button", name="Join", exact=True).click()
    expect(student.get_by_role("heading", level=1, name=re.compile(r"^Hi!"))).to_be_visible()
    assert_accessible(student)
    student.get_by_role("button", name="Yes, I'm ready").click()
    expect(student.get_by_role("heading", name="You're in the waiting room")).to_be_visible()
    _wait_for(student, "() => window.homeroomWaiting && window.homeroomWaiting.socketConnected")
    _wait_for(student, "() => window.homeroomWaiting.previewing")  # the camera and microphone preview runs
    expect(student.get_by_text("Your camera and microphone are working.")).to_be_visible()
    assert_accessible(student)


#: How many offers the page has received (its signalling steps, static/js/call.js `trace`).
OFFERS_RECEIVED = "window.homeroomCall.trace.filter((s) => s.endsWith(' receive offer')).length"


def _admit_and_connect(page, student) -> None:
    page.get_by_role("button", name="Admit").click()
    expect(student).to_have_url(re.compile(r"/sessions/rooms/\d+$"))
    try:
        for who in (page, student):
            _wait_for(who, "() => window.homeroomCall && window.homeroomCall.connectionState === 'connected'", 20)
    except AssertionError as error:
        traces = {name: who.evaluate("() => window.homeroomCall ? window.homeroomCall.trace : null")
                  for name, who in (("therapist", page), ("student", student))}
        raise AssertionError(f"{error}\nsignalling steps (ms since page load): {traces}") from None
    # The therapist makes the first offer and the student answers it: two offers crossing made the
    # student's Chromium stop gathering ICE candidates (see onnegotiationneeded in static/js/call.js).
    for who, first in ((page, "offer"), (student, "answer")):
        sent = [step.split()[2] for step in who.evaluate("() => window.homeroomCall.trace")
                if step.split()[1:2] == ["send"] and step.split()[2] in ("offer", "answer")]
        assert sent[:1] == [first], sent
    for who in (page, student):
        assert _wait_for(who, INBOUND_VIDEO_BYTES) > 0


def test_therapist_and_student_meet_by_video_mute_chat_and_end(browser, page, base_url, live_server, sign_in_as,
                                                                browser_errors, demo_app):
    appointment_id, _ = _session_now(demo_app, STUDENT_FOR_CALL)
    sign_in_as(THERAPIST)
    code = _open_room(page, base_url, appointment_id)

    student_context = _new_context(browser, live_server, browser_errors)
    student = student_context.new_page()
    try:
        _student_joins_by_code(student, base_url, code)
        expect(page.get_by_text("The student is waiting.")).to_be_visible()
        _admit_and_connect(page, student)
        expect(page.get_by_text("Connected. The student is here.")).to_be_visible()
        expect(student.get_by_text("Connected. Your counselor is here.")).to_be_visible()
        assert_accessible(student)
        assert_accessible(page)

        # Mute: the therapist's microphone track stops, and the student is told.
        page.get_by_role("button", name="Mute").click()
        expect(page.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")
        assert page.evaluate("window.homeroomCall.pc.getSenders().filter(s => s.track && s.track.kind === 'audio')"
                             ".every(s => !s.track.enabled)")
        expect(student.get_by_text("Your counselor's microphone is off.")).to_be_visible()

        # Chat: relayed both ways.
        student.get_by_label("Message").fill("Hi! I can see you.")
        student.get_by_role("button", name="Send").click()
        expect(page.locator("#chat-log")).to_contain_text("Student: Hi! I can see you.")
        page.get_by_label("Message").fill("Great to see you too.")
        page.get_by_label("Message").press("Enter")
        expect(student.locator("#chat-log")).to_contain_text("Counselor: Great to see you too.")

        # Once connected, either page may offer again (an ICE restart does): the student's offer is
        # answered, then the therapist's, and the call stays connected.
        for offering, answering in ((student, page), (page, student)):
            heard = answering.evaluate(f"() => {OFFERS_RECEIVED}")
            offering.evaluate("() => window.homeroomCall.pc.restartIce()")
            _wait_for(answering, f"() => {OFFERS_RECEIVED} > {heard}")
            for who in (offering, answering):
                _wait_for(who, "() => window.homeroomCall.pc.signalingState === 'stable'"
                               " && window.homeroomCall.connectionState === 'connected'", 10)
        assert _wait_for(page, INBOUND_VIDEO_BYTES) > 0

        # A reload (or a blip that drops the page) rejoins the call.
        student.reload()
        _wait_for(student, "() => window.homeroomCall && window.homeroomCall.connectionState === 'connected'", 20)
        _wait_for(page, "() => window.homeroomCall.pc && window.homeroomCall.pc.connectionState === 'connected'", 20)
        assert _wait_for(student, INBOUND_VIDEO_BYTES) > 0

        # End: both pages say so within 2 seconds.
        started = time.monotonic()
        page.get_by_role("button", name="End session").click()
        expect(page.locator("#ended")).to_be_visible(timeout=2000)
        expect(student.locator("#ended")).to_be_visible(timeout=2000)
        assert time.monotonic() - started < 2.5
        expect(student.locator("#ended-message")).to_have_text(
            "Your counselor ended the session. Thank you for coming today!")
        for who in (page, student):
            assert who.evaluate("window.homeroomCall.ended && !window.homeroomCall.socketConnected"
                                " && window.homeroomCall.pc === null")

        # Afterwards the join code and the room no longer let anyone in.
        student.reload()
        expect(student.get_by_role("heading", name="This session has ended")).to_be_visible()
        student.goto(base_url + "/join")
        student.get_by_label("Your code").fill(code)
        student.get_by_role("button", name="Join", exact=True).click()
        expect(student.get_by_role("alert")).to_contain_text("does not match a session that is open now")
    finally:
        student_context.close()


def test_guardian_withdrawing_video_consent_cuts_off_both_pages_within_2s(browser, page, base_url, live_server,
                                                                          sign_in_as, browser_errors, demo_app):
    appointment_id, request_id = _session_now(demo_app, STUDENT_FOR_REVOCATION)
    sign_in_as(THERAPIST)
    code = _open_room(page, base_url, appointment_id)
    student_context = _new_context(browser, live_server, browser_errors)
    guardian_context = _new_context(browser, live_server, browser_errors)
    student = student_context.new_page()
    guardian = guardian_context.new_page()
    try:
        _student_joins_by_code(student, base_url, code)
        _admit_and_connect(page, student)

        sign_in(guardian, base_url, GUARDIAN)
        guardian.goto(f"{base_url}/consent/requests/{request_id}/sign")
        guardian.get_by_role("group", name="Withdraw consent for").get_by_label(
            "Video sessions with the school counselor or therapist").check()
        started = time.monotonic()
        guardian.get_by_role("button", name="Withdraw consent").click()
        expect(page.locator("#ended")).to_be_visible(timeout=2000)
        expect(student.locator("#ended")).to_be_visible(timeout=2000)
        assert time.monotonic() - started < 2.5
        for who in (page, student):
            expect(who.locator("#ended-message")).to_contain_text("a guardian changed their permission for video")
            assert who.evaluate("window.homeroomCall.endedReason") == "consent_revoked"
            assert who.evaluate("!window.homeroomCall.socketConnected && window.homeroomCall.pc === null")
        # The room page now refuses the call with a plain explanation.
        page.reload()
        expect(page.get_by_role("heading", name="This session has ended")).to_be_visible()
    finally:
        student_context.close()
        guardian_context.close()
