"""axe-core (WCAG 2.0/2.1/2.2 A and AA rules) on every page type, as every role that can see it.

`PAGES` names, for every endpoint of `app.url_map` that answers GET with HTML, the visits that
cover it: who is signed in (anonymous, guardian, therapist, school_admin, district_admin, or the
student's one-room grant), the path (built from the `demo` data below), and optionally a form to
submit first so the page shows its validation errors or a flash message. An HTML GET route
missing from `PAGES` fails `test_every_html_get_route_has_an_accessibility_visit`; a route that
answers with something else (CSV, iCal, PDF, JSON, a static file, a redirect) must be listed in
`NOT_HTML` with the reason.

Each visit fails on any serious or critical axe violation; minor and moderate ones are printed
(run with `-s` to read them; docs/ACCESSIBILITY.md lists the known ones). Every page also fails
on console errors and Content Security Policy violations (see conftest.py).

The student's pages (join, assent, waiting room, the call with each game open) need a live room
and a therapist who admits the student, so one test walks them in two browsers:
`test_student_and_therapist_live_session_pages_are_accessible`.

The demo district is seeded once per module; `demo` adds what the seed lacks so that no page is
empty: a session in the past (the note and attendance forms), a room open now with a join link,
an invited staff member, a consent request waiting for a guardian without a password, a roster
upload with problems, and mail in the development outbox.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.helpers import (
    DISTRICT_ADMIN,
    GUARDIAN,
    SCHOOL_ADMIN,
    THERAPIST,
    expect_http_error_page,
    path_of,
)
from tests.e2e.helpers import assert_accessible as _assert_accessible

EMAILS = {
    "guardian": GUARDIAN,
    "therapist": THERAPIST,
    "school_admin": SCHOOL_ADMIN,
    "district_admin": DISTRICT_ADMIN,
}
ROLES = ("anonymous", *EMAILS, "student")

STUDENT = "demo-s-005"  # Mia Kim: Priya Raman's caseload (Riverbend Elementary), video, games and mood consent
CHILD = "demo-s-002"  # Liam Nguyen: child of the demo guardian James Nguyen, also on Priya's caseload
NEW_FAMILY_STUDENT = "demo-s-001"  # Ava Garcia: no consent yet; `demo` asks her guardians
BAD_TOKEN = "not-a-token"


@dataclass(frozen=True)
class Visit:
    role: str
    path: str  # formatted with the `demo` dict
    status: int = 200
    submit: str | None = None  # a button to press (browser validation off) to show errors or a flash
    fill: tuple[tuple[str, str], ...] = ()  # (label, value) to fill before pressing `submit`
    lands_on: str | None = None  # the endpoint reached when it is not the visited one (after a redirect)
    tag: str = ""  # tells apart two visits of one endpoint by one role

    @property
    def id(self) -> str:
        return "-".join(p for p in (self.role, self.tag) if p)


def _v(role, path, **kw) -> Visit:
    return Visit(role, path, **kw)


ADMINS = ("school_admin", "district_admin")
STAFF = ("therapist", *ADMINS)
SIGNED_IN = ("guardian", *STAFF)

# endpoint -> the visits that cover it. Roles a route refuses are the permission matrix's business;
# here each role sees the pages it can use, and the error pages (400, 403, 404) are visited too.
PAGES: dict[str, list[Visit]] = {
    # public and accounts
    "core.index": [_v("anonymous", "/")],
    "core.home": [_v(r, "/home") for r in SIGNED_IN],
    "auth.login": [
        _v("anonymous", "/login"),
        _v("anonymous", "/login", submit="Sign in", fill=(("Email", "nobody@family.example"), ("Password", "wrong-password")),
           status=200, tag="wrong-password"),
        _v("anonymous", "/consent/invite/{maria_invitation_token}", lands_on="auth.login", tag="flash"),
    ],
    "auth.forgot_password": [
        _v("anonymous", "/password/forgot"),
        _v("anonymous", "/password/forgot", submit="Send the link", tag="empty"),
    ],
    "auth.reset_password": [
        _v("anonymous", "/password/reset/{reset_token}"),
        _v("anonymous", "/password/reset/{reset_token}", submit="Save my new password", tag="empty"),
        _v("anonymous", f"/password/reset/{BAD_TOKEN}", status=400, tag="invalid"),
    ],
    "auth.verify_totp": [_v("anonymous", "/login/verify", tag="mfa-pending")],  # see test_totp_sign_in_page
    "auth.mfa_setup": [_v("therapist", "/account/totp", lands_on="auth.enrol_totp", tag="same-template")],
    "auth.account": [
        *[_v(r, "/account") for r in SIGNED_IN],
        _v("therapist", "/account", submit="Change password",
           fill=(("Current password", "not-my-password"),), tag="wrong-password"),
    ],
    "auth.enrol_totp": [
        *[_v(r, "/account/totp") for r in STAFF],
        _v("therapist", "/account/totp", submit="Turn on two-step sign-in", tag="empty"),
    ],
    "districts.accept_invite": [
        _v("anonymous", "/welcome/{invite_token}"),
        _v("anonymous", "/welcome/{invite_token}", submit="Save my password", tag="empty"),
        _v("anonymous", f"/welcome/{BAD_TOKEN}", status=400, tag="invalid"),
    ],
    "outbox.messages": [_v("anonymous", "/dev/outbox/"), _v("district_admin", "/dev/outbox/")],
    "outbox.message": [_v("anonymous", "/dev/outbox/{outbox_key}"),
                       _v("anonymous", "/dev/outbox/no-such-message", status=404, tag="missing")],
    "preflight.index": [_v("anonymous", "/preflight/"), _v("guardian", "/preflight/")],
    # district administration
    "districts.schools": [_v(r, "/schools") for r in ADMINS],
    "districts.school": [*[_v(r, "/schools/{school}") for r in STAFF],
                         _v("school_admin", "/schools/{school_b}", status=404, tag="other-school")],
    "districts.staff": [_v(r, "/staff") for r in ADMINS],
    "districts.staff_member": [*[_v(r, "/staff/{therapist}") for r in ADMINS],
                               _v("district_admin", "/staff/{invited}", tag="invited")],
    "districts.invite_staff": [*[_v(r, "/staff/invite") for r in ADMINS],
                               _v("district_admin", "/staff/invite", submit="Send the invitation", tag="empty")],
    "districts.students": [*[_v(r, "/students") for r in ADMINS],
                           _v("district_admin", "/students?q=zzzz-nobody", tag="no-match")],
    "districts.student": [
        *[_v(r, "/students/{student}") for r in STAFF],
        _v("guardian", "/students/{child}"),
        _v("guardian", "/students/{student}", status=404, tag="not-my-child"),
    ],
    "districts.edit_student": [*[_v(r, "/students/{student}/edit") for r in ADMINS],
                               _v("district_admin", "/students/{student}/edit", submit="Save",
                                  fill=(("First name", ""),), tag="empty")],
    "districts.caseloads": [_v(r, "/caseloads") for r in ADMINS],
    "districts.roster": [_v("district_admin", "/roster"),
                         _v("district_admin", "/roster", submit="Check the file", tag="no-file")],
    "districts.roster_preview": [_v("district_admin", "/roster/{roster_import}")],
    "districts.dashboard": [_v("district_admin", "/dashboard"),
                            _v("school_admin", "/dashboard", lands_on="districts.school_dashboard")],
    "districts.school_dashboard": [_v(r, "/dashboard/schools/{school}") for r in ADMINS],
    "audit.events": [_v("district_admin", "/audit/"), _v("district_admin", "/audit/?page=2", tag="page-2")],
    # consent
    "consent.portal": [_v("guardian", "/consent/")],
    "consent.sign": [_v("guardian", "/consent/requests/{child_request}/sign")],
    "consent.invitation": [
        _v("anonymous", "/consent/invite/{rosa_invitation_token}"),
        _v("anonymous", "/consent/invite/{rosa_invitation_token}", submit="Save and continue", tag="empty"),
        _v("anonymous", f"/consent/invite/{BAD_TOKEN}", status=400, tag="invalid"),
        _v("guardian", "/consent/invite/{rosa_invitation_token}", status=403, tag="wrong-account"),
    ],
    "consent.caseload": [_v("therapist", "/consent/caseload")],
    "consent.school_overview": [_v(r, "/consent/schools/{school}") for r in ADMINS],
    "consent.request_detail": [_v(r, "/consent/requests/{request}") for r in STAFF],
    "consent.new_request": [_v(r, "/consent/students/{student}/request") for r in STAFF],
    "consent.forms": [_v("district_admin", "/consent/forms"),
                      _v("district_admin", "/consent/forms", submit="Publish", tag="empty")],
    "consent.form_version": [_v("district_admin", "/consent/forms/{template}")],
    # scheduling
    "scheduling.week": [_v("therapist", "/schedule/")],
    "scheduling.day": [_v("therapist", "/schedule/day")],
    "scheduling.book": [_v("therapist", "/schedule/book"),
                        _v("therapist", "/schedule/book", submit="Book", tag="empty")],
    "scheduling.availability": [_v("therapist", "/schedule/availability"),
                                _v("therapist", "/schedule/availability", submit="Add availability", tag="empty")],
    "scheduling.feed": [_v("therapist", "/schedule/feed")],
    "scheduling.appointment": [*[_v(r, "/schedule/appointments/{future_appointment}") for r in STAFF],
                               _v("therapist", "/schedule/appointments/{past_appointment}", tag="past")],
    "scheduling.teachers": [_v(r, "/schedule/students/{student}/teachers") for r in STAFF],
    "scheduling.family": [_v("guardian", "/schedule/family"),
                          _v("guardian", "/schedule/family", submit="Save", tag="flash")],
    "scheduling.schools": [_v("district_admin", "/schedule/schools"),
                           _v("school_admin", "/schedule/schools", lands_on="scheduling.school_sessions")],
    "scheduling.school_sessions": [_v(r, "/schedule/schools/{school}") for r in ADMINS],
    "scheduling.school_calendar": [_v(r, "/schedule/schools/{school}/calendar") for r in STAFF],
    "scheduling.bell_schedule": [_v(r, "/schedule/bell-schedules/{bell_schedule}") for r in STAFF],
    # sessions and games
    "session_notes.note": [_v("therapist", "/sessions/appointments/{past_appointment}/note"),
                           _v("therapist", "/sessions/appointments/{past_appointment}/note", submit="Save",
                              fill=(("Minutes delivered", "-5"),), tag="invalid")],
    "games.mood_trend": [_v("therapist", "/students/{student}/mood")],
    # the live session: walked by test_student_and_therapist_live_session_pages_are_accessible
    "sessions.join": [_v("student", "/join")],
    "sessions.join_link": [_v("student", "/join/{join_token}")],
    "sessions.assent": [_v("student", "/sessions/rooms/{room}/ready")],
    "sessions.waiting": [_v("student", "/sessions/rooms/{room}/waiting")],
    "sessions.room": [_v("student", "/sessions/rooms/{room}"), _v("therapist", "/sessions/rooms/{room}")],
}

# Endpoints that answer GET with something other than an HTML page, and so have no axe visit.
NOT_HTML: dict[str, str] = {
    "static": "static files (CSS, JS, images)",
    "core.vendor_asset": "JavaScript from node_modules (socket.io client, chart library)",
    "audit.export": "CSV download",
    "districts.dashboard_csv": "CSV download (each chart's table is on the dashboard page itself)",
    "districts.school_dashboard_csv": "CSV download (each chart's table is on the dashboard page itself)",
    "consent.signature_pdf": "PDF copy of a signed consent",
    "scheduling.ical": "iCal calendar feed",
}

LIVE_SESSION_ENDPOINTS = ("sessions.join", "sessions.join_link", "sessions.assent", "sessions.waiting",
                          "sessions.room")

# rule id -> pages where axe advised (moderate/minor WCAG findings, best-practice findings); printed at the end.
ADVICE: dict[str, set[str]] = {}


def assert_accessible(page: Page) -> None:
    for finding in _assert_accessible(page):
        ADVICE.setdefault(f"{finding['id']} [{finding['impact']}]", set()).add(re.sub(r"/\d+", "/N", path_of(page.url)))


@pytest.fixture(scope="module", autouse=True)
def _print_advice():
    yield
    print("\n--- axe advice (not failures) over this module's pages ---")
    for rule, pages in sorted(ADVICE.items()):
        print(f"{rule}: {len(pages)} page(s): {', '.join(sorted(pages)[:8])}")
    if not ADVICE:
        print("none")


GAMES = ("Tic-Tac-Toe", "Connect Four", "Memory Match", "Drawing Board", "Feelings Cards", "Mood Check-in")


def test_every_html_get_route_has_an_accessibility_visit(app):
    get_endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    missing = get_endpoints - set(PAGES) - set(NOT_HTML)
    assert not missing, (f"GET routes with no accessibility visit: {sorted(missing)}; add them to PAGES "
                         "(or to NOT_HTML with the reason if they do not answer with HTML)")
    stale = (set(PAGES) | set(NOT_HTML)) - get_endpoints
    assert not stale, f"PAGES/NOT_HTML entries that are not GET routes: {sorted(stale)}"
    assert not set(PAGES) & set(NOT_HTML)
    for endpoint, visits in PAGES.items():
        assert visits, endpoint
        assert all(v.role in ROLES for v in visits), endpoint
        ids = [v.id for v in visits]
        assert len(ids) == len(set(ids)), f"{endpoint}: two visits with one id {ids}"
    covered = {v.role for visits in PAGES.values() for v in visits}
    assert covered == set(ROLES), f"roles with no page: {set(ROLES) - covered}"


# --- the demo data the pages need ---------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_app(demo_database_url, live_server):
    """The test's own app on the live server's database and outbox, signing with its secret key."""
    from app import create_app
    from app.extensions import db
    from config import DevelopmentConfig, TestConfig

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=demo_database_url, SECRET_KEY=DevelopmentConfig.SECRET_KEY,
                     OUTBOX_DIR=str(Path(live_server.log_path).parent / "outbox"))
    yield app
    with app.app_context():
        db.engine.dispose()


def _appointment(therapist, student, start, *, modality="telehealth", minutes=30):
    from app.scheduling.models import Appointment

    return Appointment(
        district_id=student.district_id, school_id=student.school_id, therapist_id=therapist.id,
        student_id=student.id, starts_at=start, ends_at=start + timedelta(minutes=minutes),
        local_date=start.astimezone(ZoneInfo(student.school.timezone)).date(), modality=modality,
        status="scheduled", created_by_id=therapist.id)


@pytest.fixture(scope="module")
def demo(demo_app) -> dict:
    """Ids and tokens for every page's path (see the module docstring)."""
    from app.audit.services import record
    from app.auth.models import User
    from app.auth.services import make_reset_token
    from app.consent.models import ConsentRequest
    from app.consent.services import invitation_token, latest_template, request_consent
    from app.db_types import utcnow
    from app.districts import roster
    from app.districts.models import GuardianLink, School, Student
    from app.districts.staff import invite_staff, make_invite_token
    from app.extensions import db
    from app.notifications.services import outbox_messages, send_email
    from app.scheduling.models import Appointment, BellSchedule
    from app.sessions.services import issue_join_link, open_room

    secret = demo_app.config["SECRET_KEY"]
    with demo_app.app_context():
        def user(email):
            return db.session.scalar(select(User).where(User.email == email))

        def student(source_id):
            return db.session.scalar(select(Student).where(Student.source_id == source_id))

        admin, therapist = user(DISTRICT_ADMIN), user(THERAPIST)
        mia, liam, ava = student(STUDENT), student(CHILD), student(NEW_FAMILY_STUDENT)
        school_b = db.session.scalar(select(School).where(School.id != mia.school_id))
        now = utcnow().replace(second=0, microsecond=0)

        past = _appointment(therapist, mia, now - timedelta(hours=3))
        live = _appointment(therapist, liam, now)
        db.session.add_all([past, live])
        db.session.commit()
        room = open_room(therapist, live)
        join_token = issue_join_link(therapist, room)
        future = db.session.scalar(select(Appointment.id).where(
            Appointment.therapist_id == therapist.id, Appointment.starts_at > now + timedelta(hours=1))
            .order_by(Appointment.starts_at).limit(1))

        invited = invite_staff(admin, name="Robin Park", email="robin.park@riverbend.example", role="therapist",
                               school_ids=[mia.school_id])
        # A guardian without a password (invited by the consent email to set one), beside Ava's parent.
        rosa = User(email="rosa.diaz@family.example", name="Rosa Diaz", role="guardian",
                    district_id=ava.district_id)
        db.session.add(rosa)
        db.session.flush()
        db.session.add(GuardianLink(district_id=ava.district_id, guardian_id=rosa.id, student_id=ava.id,
                                    relationship_label="parent", legal_authority=True))
        db.session.commit()
        asked = request_consent(admin, ava, scopes=["video_sessions", "games"])
        tokens = {inv.guardian.email: invitation_token(inv, secret) for inv in asked.invitations}
        text = Path(__file__).resolve().parents[2].joinpath("docs/samples/roster.csv").read_text()
        text += "bad-1,active,student,,NoGivenName,,,99,no-such-school,not-a-date,,,,,\n"
        upload = roster.store_upload(admin, "roster.csv", text, roster.plan(admin.district_id, text))
        # Enough audit events for a second page of the audit log (50 a page).
        for _ in range(60):
            record("account.viewed_for_accessibility_test", actor=admin, district_id=admin.district_id, now=now)
        db.session.commit()
        send_email(THERAPIST, "Your sessions today", "Good morning! You have 2 sessions today.")

        def request_of(s):
            return db.session.scalar(select(ConsentRequest.id).where(ConsentRequest.student_id == s.id)
                                     .order_by(ConsentRequest.id.desc()).limit(1))

        ids = {
            "school": mia.school_id, "school_b": school_b.id, "student": mia.id, "child": liam.id,
            "therapist": therapist.id, "invited": invited.id,
            "invite_token": make_invite_token(invited, secret),
            "reset_token": make_reset_token(user(GUARDIAN), secret),
            "rosa_invitation_token": tokens["rosa.diaz@family.example"],
            "maria_invitation_token": next(t for e, t in tokens.items() if e != "rosa.diaz@family.example"),
            "request": request_of(mia), "child_request": request_of(liam),
            "template": latest_template(admin.district_id).id,
            "roster_import": upload.id,
            "past_appointment": past.id, "future_appointment": future, "live_appointment": live.id,
            "room": room.id, "join_code": room.join_code, "join_token": join_token,
            "bell_schedule": db.session.scalar(select(BellSchedule.id).where(BellSchedule.school_id == mia.school_id)
                                               .order_by(BellSchedule.id).limit(1)),
            "outbox_key": outbox_messages()[0].key,
        }
        assert all(value is not None for value in ids.values()), ids
        return ids


# --- visiting a page ----------------------------------------------------------------------------


def _endpoint_of(app, url: str) -> str:
    path = path_of(url).split("?")[0]
    return app.url_map.bind("localhost").match(path, method="GET")[0]


def _go(page: Page, base_url: str, visit: Visit, demo: dict):
    url = base_url + visit.path.format(**demo)
    if visit.status >= 400 and not visit.submit:
        expect_http_error_page(page, url, visit.status)
    response = page.goto(url)
    assert response is not None
    if visit.submit:
        assert response.status == 200, f"{url} answered {response.status} before the form was sent"
        for label, value in visit.fill:
            page.get_by_label(label, exact=True).fill(value)
        # The browser's own checks (required, min) would stop the form; the server's are under test.
        page.evaluate("document.querySelectorAll('form').forEach(f => { f.noValidate = true; })")
        with page.expect_navigation() as navigation:
            page.get_by_role("button", name=visit.submit, exact=True).click()
        response = navigation.value
        assert response is not None
        if response.status >= 400:
            page.browser_errors.expect(re.escape(path_of(response.url)),
                                       rf"^Failed to load resource: the server responded with a status of {response.status}\b")
        assert response.status in (200, 400, 422), f"{visit.submit} on {url} answered {response.status}"
    else:
        assert response.status == visit.status, f"{url} answered {response.status}, expected {visit.status}"
    return response


HTML_VISITS = [
    pytest.param(endpoint, visit, id=f"{endpoint}-{visit.id}")
    for endpoint, visits in PAGES.items()
    for visit in visits
    if visit.role != "student" and endpoint not in LIVE_SESSION_ENDPOINTS and endpoint != "auth.verify_totp"
]


@pytest.mark.parametrize(("endpoint", "visit"), HTML_VISITS)
def test_page_has_no_serious_accessibility_violations(page, base_url, sign_in_as, demo, demo_app, endpoint, visit):
    if visit.role != "anonymous":
        sign_in_as(EMAILS[visit.role])
    _go(page, base_url, visit, demo)
    if visit.status < 400:
        assert _endpoint_of(demo_app, page.url) == (visit.lands_on or endpoint), page.url
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("h1")).to_be_visible()
    if visit.submit:  # the answer to the form is on the page: an error beside a field, or a flash
        expect(page.locator(".field-error, [role=alert], .flash, .flashes").first).to_be_visible()
    if visit.tag == "page-2":
        expect(page.get_by_role("navigation", name="Pages")).to_be_visible()
    assert_accessible(page)


def test_totp_sign_in_page(page, base_url, demo_app):
    """The second sign-in step (auth.verify_totp) shows only mid-sign-in, for staff with TOTP on."""
    import pyotp

    from app.auth.models import User
    from app.auth.services import enrol_totp, new_totp_secret
    from app.extensions import db
    from tests.e2e.helpers import DEMO_PASSWORD

    email = "sam.okafor@riverbend.example"
    with demo_app.app_context():
        sam = db.session.scalar(select(User).where(User.email == email))
        if not sam.mfa_enrolled:
            secret = new_totp_secret()
            enrol_totp(sam, secret, pyotp.TOTP(secret).now(), ip=None)
    page.goto(base_url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(base_url + "/login/verify")
    assert_accessible(page)
    page.evaluate("document.querySelectorAll('form').forEach(f => { f.noValidate = true; })")
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page.locator(".field-error, [role=alert], .flash").first).to_be_visible()
    assert_accessible(page)


def test_error_pages_are_accessible(page, base_url, sign_in_as):
    """403 (a guardian on a staff page) and 404, signed in and not."""
    for path, status, who in (("/no-such-page", 404, None), ("/staff", 403, GUARDIAN), ("/no-such-page", 404, GUARDIAN)):
        if who:
            sign_in_as(who)
        expect_http_error_page(page, base_url + path, status)
        response = page.goto(base_url + path)
        assert response is not None and response.status == status
        expect(page.locator("h1")).to_be_visible()
        assert_accessible(page)


# --- the live session, in two browsers ----------------------------------------------------------


def _wait_for(page: Page, expression: str, timeout: float = 15) -> None:
    """Poll a JS function with page.evaluate (wait_for_function uses eval, which the CSP refuses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression!r} on {page.url}"
        page.wait_for_timeout(100)


def test_student_and_therapist_live_session_pages_are_accessible(page, browser, live_server, base_url, sign_in_as,
                                                                 browser_errors, demo, demo_app):
    """Join link, join by code (with a wrong code first), assent, waiting room, the call with each
    game open (student and therapist), and the page after the therapist ends the session."""
    seen: set[tuple[str, str]] = set()

    def check(p: Page, role: str) -> None:
        assert_accessible(p)
        seen.add((_endpoint_of(demo_app, p.url), role))

    sign_in_as(THERAPIST)
    page.goto(f"{base_url}/sessions/rooms/{demo['room']}")
    expect(page.locator("#join-code")).to_have_text(demo["join_code"])
    check(page, "therapist")

    context = browser.new_context(base_url=base_url, locale="en-US", timezone_id="UTC")
    context.grant_permissions(["camera", "microphone"], origin=base_url)
    context.set_default_timeout(10_000)
    browser_errors.watch(context)
    student = context.new_page()
    try:
        student.goto(f"{base_url}/join/{demo['join_token']}")
        expect(student.get_by_role("button", name="Join my session")).to_be_visible()
        check(student, "student")

        student.goto(base_url + "/join")
        check(student, "student")
        student.get_by_label("Your code").fill("ZZZZZZ")
        student.get_by_role("button", name="Join", exact=True).click()
        expect(student.get_by_role("alert")).to_be_visible()
        check(student, "student")
        student.get_by_label("Your code").fill(demo["join_code"])
        student.get_by_role("button", name="Join", exact=True).click()
        expect(student).to_have_url(re.compile(r"/ready$"))
        check(student, "student")
        student.get_by_role("button", name="Yes, I'm ready").click()
        expect(student.get_by_role("heading", name="You're in the waiting room")).to_be_visible()
        _wait_for(student, "() => window.homeroomWaiting && window.homeroomWaiting.socketConnected")
        check(student, "student")

        expect(page.get_by_role("button", name="Admit")).to_be_visible()
        check(page, "therapist")  # with the student waiting
        page.get_by_role("button", name="Admit").click()
        expect(student).to_have_url(re.compile(r"/sessions/rooms/\d+$"))
        for p in (page, student):
            expect(p.locator("#games")).to_have_attribute("data-connected", "true", timeout=15_000)
        check(student, "student")
        student.get_by_role("button", name="Leave").click()  # the "Leave the session?" dialog, open
        expect(student.get_by_role("dialog", name="Leave the session?")).to_be_visible()
        check(student, "student")
        student.get_by_role("button", name="Stay").click()

        for game in GAMES:
            page.get_by_label("Activity", exact=True).select_option(label=game)
            page.get_by_role("radio", name="Student").check()
            page.get_by_role("button", name=re.compile(r"^(Start|Start over)$")).first.click()
            for p in (page, student):
                expect(p.locator("#games-board-title")).to_have_text(game)
            check(student, "student")
            check(page, "therapist")

        page.get_by_role("button", name="End session").click()
        expect(student.locator("#ended")).to_be_visible()
        check(student, "student")
        student.reload()
        expect(student.get_by_role("heading", name="This session has ended")).to_be_visible()
        check(student, "student")
    finally:
        context.close()
    claimed = {(endpoint, v.role) for endpoint in LIVE_SESSION_ENDPOINTS for v in PAGES[endpoint]}
    assert claimed <= seen, f"PAGES claims live-session visits this test did not make: {claimed - seen}"


def test_axe_advice_is_reported_and_blocking_findings_fail(page, base_url):
    """The harness can fail: a moderate or best-practice finding is returned, a critical one raises."""
    page.goto(base_url + "/login")
    assert _assert_accessible(page) == []
    page.evaluate("""() => { const p = document.createElement('p'); p.textContent = 'Outside every landmark';
                             document.body.append(p); }""")
    advice = _assert_accessible(page)
    assert [(a["id"], a["impact"]) for a in advice] == [("region", "moderate")]
    page.evaluate("document.querySelector('main').append(document.createElement('button'))")
    with pytest.raises(AssertionError, match=r"button-name \[critical\]"):
        _assert_accessible(page)
