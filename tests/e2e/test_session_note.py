"""After a session, in a real browser: the therapist records attendance and writes the private DAP
note from the session's page; a school admin's view of the same session has no way to it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.helpers import SCHOOL_ADMIN, THERAPIST, assert_accessible
from tests.e2e.test_scheduling import _past_session


def test_therapist_records_attendance_and_writes_the_note(page, base_url, sign_in_as, demo_database_url):
    appointment_id = _past_session(demo_database_url)
    sign_in_as(THERAPIST)
    page.goto(f"{base_url}/schedule/appointments/{appointment_id}")
    page.get_by_role("link", name="After the session: attendance and private note").click()
    expect(page).to_have_url(re.compile(rf"/sessions/appointments/{appointment_id}/note$"))
    expect(page.get_by_label("Minutes delivered")).to_have_value("30")  # the planned length
    assert_accessible(page)
    page.get_by_label("Attended").check()
    page.get_by_label("Minutes delivered").fill("28")
    page.get_by_label("Data: what happened in the session").fill("Talked about the new class.")
    page.get_by_label("Assessment: your clinical view").fill("Settling in.")
    page.get_by_label("Plan: next steps").fill("Check in next week.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved the attendance and your note.")).to_be_visible()
    expect(page.get_by_label("Plan: next steps")).to_have_value("Check in next week.")
    expect(page.get_by_label("Minutes delivered")).to_have_value("28")
    assert_accessible(page)


def test_school_admin_sees_no_note(page, base_url, sign_in_as, demo_database_url):
    appointment_id = _past_session(demo_database_url)
    sign_in_as(SCHOOL_ADMIN)
    page.goto(f"{base_url}/schedule/appointments/{appointment_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Session with")
    expect(page.get_by_role("link", name=re.compile("private note"))).to_have_count(0)
