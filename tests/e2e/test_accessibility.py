"""axe-core (WCAG 2.2 AA rules) on every kind of page: no serious or critical violations.

Signing in is tested in test_accounts.py; here `sign_in_as` signs each person in through the form
once per module and reuses the session, because each sign-in costs a real Argon2 check.

The pages run with the app's real CSP (see `assert_accessible`), so these tests also fail on any
CSP violation or console error the pages produce.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import (
    DISTRICT_ADMIN,
    GUARDIAN,
    SCHOOL_ADMIN,
    THERAPIST,
    assert_accessible,
    expect_http_error_page,
)


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        pytest.param("/", "Counseling at school, wherever the student is.", id="welcome"),
        pytest.param("/login", "Sign in to Homeroom", id="login"),
        pytest.param("/password/forgot", "Reset your password", id="forgot_password"),
    ],
)
def test_visitor_can_use_public_pages_accessibly(page, base_url, path, heading):
    page.goto(base_url + path)
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
    assert_accessible(page)


def test_visitor_sees_an_accessible_not_found_page(page, base_url):
    expect_http_error_page(page, base_url + "/no-such-page", 404)
    response = page.goto(base_url + "/no-such-page")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1, name="We could not find that page")).to_be_visible()
    assert_accessible(page)


@pytest.mark.parametrize(
    "email",
    [
        pytest.param(DISTRICT_ADMIN, id="district_admin"),
        pytest.param(SCHOOL_ADMIN, id="school_admin"),
        pytest.param(THERAPIST, id="therapist"),
        pytest.param(GUARDIAN, id="guardian"),
    ],
)
def test_each_role_sees_an_accessible_home_page(page, sign_in_as, email):
    sign_in_as(email)
    assert_accessible(page)


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        pytest.param("/account", "Your account", id="account"),
        pytest.param("/students", "Students", id="students"),
        pytest.param("/staff", "Staff", id="staff"),
        pytest.param("/audit/", "Audit log", id="audit_log"),
        pytest.param("/schools", "Riverbend Unified School District", id="schools"),
    ],
)
def test_district_admin_sees_accessible_staff_pages(page, base_url, sign_in_as, path, heading):
    sign_in_as(DISTRICT_ADMIN)
    page.goto(base_url + path)
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
    assert_accessible(page)


def test_district_admin_sees_an_accessible_student_record(page, base_url, sign_in_as):
    sign_in_as(DISTRICT_ADMIN)
    page.goto(base_url + "/students")
    page.get_by_role("table", name="Students").get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/students/\d+$"))
    expect(page.get_by_role("heading", level=2, name="Guardians")).to_be_visible()
    assert_accessible(page)


def test_guardian_sees_an_accessible_record_of_their_child(page, sign_in_as):
    sign_in_as(GUARDIAN)
    page.get_by_role("link", name="See details").first.click()
    expect(page.get_by_role("term").filter(has_text="Legal name")).to_be_visible()
    assert_accessible(page)


def test_therapist_sees_an_accessible_not_found_page_for_a_record_out_of_reach(page, base_url, sign_in_as):
    sign_in_as(THERAPIST)
    expect_http_error_page(page, base_url + "/students/999999", 404)
    response = page.goto(base_url + "/students/999999")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1, name="We could not find that page")).to_be_visible()
    assert_accessible(page)
