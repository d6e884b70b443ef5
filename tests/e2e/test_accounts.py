"""Accounts in a real browser: sign in and out per role, keyboard-only sign-in, password reset."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import (
    DEMO_PASSWORD,
    DISTRICT_ADMIN,
    GUARDIAN,
    SCHOOL_ADMIN,
    THERAPIST,
    THERAPIST_CEDAR_HILL,
    expect_http_error_page,
    sign_in,
    sign_out,
)


@pytest.mark.parametrize(
    ("email", "home_heading"),
    [
        pytest.param(DISTRICT_ADMIN, "Schools", id="district_admin"),
        pytest.param(SCHOOL_ADMIN, "Schools", id="school_admin"),
        pytest.param(THERAPIST, re.compile(r"^Your caseload"), id="therapist"),
        pytest.param(GUARDIAN, "Your children", id="guardian"),
    ],
)
def test_each_role_can_sign_in_see_its_home_and_sign_out(page, base_url, email, home_heading):
    sign_in(page, base_url, email, DEMO_PASSWORD)
    expect(page.get_by_role("heading", name=home_heading)).to_be_visible()

    sign_out(page, base_url)
    expect(page.get_by_role("heading", name="Sign in to Homeroom")).to_be_visible()
    expect(page.get_by_text("You are signed out.")).to_be_visible()

    page.goto(base_url + "/home")
    expect(page).to_have_url(re.compile(re.escape(base_url) + r"/login(\?|$)"))
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_person_can_sign_in_with_the_keyboard_alone(page, base_url):
    page.goto(base_url + "/login")

    page.keyboard.press("Tab")
    skip_link = page.get_by_role("link", name="Skip to main content")
    expect(skip_link).to_be_focused()
    expect(skip_link).to_be_in_viewport()  # visible when focused, hidden otherwise

    page.keyboard.press("Enter")  # follow the skip link: focus moves to <main>
    expect(page.locator("main#main")).to_be_focused()

    page.keyboard.press("Tab")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(THERAPIST)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")

    # The browser keeps the skip link's #main across the sign-in redirect, as browsers do.
    expect(page).to_have_url(re.compile(re.escape(base_url) + r"/home(#main)?$"))
    expect(page.get_by_role("heading", name=re.compile(r"^Your caseload"))).to_be_visible()


def test_person_can_reset_a_forgotten_password_through_the_emailed_link(page, base_url):
    # Nobody else in this module signs in as this therapist: the module shares one database.
    email = THERAPIST_CEDAR_HILL
    new_password = "quiet river lantern maple"

    page.goto(base_url + "/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page).to_have_url(base_url + "/password/forgot")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send the link").click()
    expect(page).to_have_url(base_url + "/login")
    expect(page.get_by_text("If that email belongs to an account")).to_be_visible()

    page.goto(base_url + "/dev/outbox/")
    row = page.get_by_role("row").filter(has_text=email)
    expect(row).to_have_count(1)
    row.get_by_role("link", name="Reset your Homeroom password").click()
    expect(page.get_by_role("heading", name="Reset your Homeroom password")).to_be_visible()

    reset_link = page.locator("pre.email-body a[href*='/password/reset/']")
    reset_url = reset_link.get_attribute("href")
    assert reset_url and reset_url.startswith(base_url + "/password/reset/"), reset_url
    reset_link.click()
    expect(page).to_have_url(reset_url)
    page.get_by_label("New password").fill(new_password)
    page.get_by_label("Type it again").fill(new_password)
    page.get_by_role("button", name="Save my new password").click()
    expect(page).to_have_url(base_url + "/login")
    expect(page.get_by_text("Your password is changed.")).to_be_visible()

    # The old password no longer works; the new one does.
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("That email and password do not match an active account.")).to_be_visible()
    sign_in(page, base_url, email, new_password)
    expect(page.get_by_role("heading", name=re.compile(r"^Your caseload"))).to_be_visible()

    # The link works once.
    expect_http_error_page(page, reset_url, 400)
    page.goto(reset_url)
    expect(page.get_by_role("heading", name="This link does not work any more")).to_be_visible()
    expect(page.get_by_label("New password")).to_have_count(0)
