from datetime import timedelta

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import UserSession
from app.db_types import utcnow
from app.extensions import db
from tests.conftest import PASSWORD, get_csrf, login, post


def _events(action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_therapist_can_sign_in_and_reach_home(client, world):
    response = login(client, world.therapist)
    assert response.status_code == 302 and response.headers["Location"] == "/home"
    page = client.get("/home")
    assert page.status_code == 200
    assert "Own Student" in page.get_data(as_text=True)
    assert _events("auth.login")[0].actor_id == world.therapist.id


def test_anonymous_cannot_sign_in_with_wrong_password(client, world):
    response = login(client, world.therapist, "not the password at all")
    assert response.status_code == 200
    assert "do not match an active account" in response.get_data(as_text=True)
    assert client.get("/home").status_code == 302
    failed = _events("auth.login_failed")
    assert len(failed) == 1 and failed[0].target_id == world.therapist.id


def test_unknown_email_gets_the_identical_answer(client, world):
    known = login(client, world.therapist, "wrong password here").get_data(as_text=True)
    unknown = login(client, "nobody@nowhere.example", "wrong password here").get_data(as_text=True)
    strip = lambda html: html.split('name="csrf_token"')[0] + html.split("</form>")[-1]  # noqa: E731
    assert strip(known) == strip(unknown)


def test_deactivated_user_cannot_sign_in(client, world):
    world.therapist.active = False
    db.session.commit()
    assert login(client, world.therapist).status_code == 200
    assert client.get("/home").status_code == 302


def test_failed_logins_are_throttled_per_account(client, world):
    for _ in range(5):
        assert login(client, world.therapist, "wrong password 123").status_code == 200
    # Even the right password is refused while the account is throttled...
    assert login(client, world.therapist, PASSWORD).status_code == 429
    # ...and an unknown email is throttled identically after as many failures.
    for _ in range(5):
        login(client, "ghost@nowhere.example", "wrong password 123")
    assert login(client, "ghost@nowhere.example", "wrong password 123").status_code == 429


def test_failed_logins_are_throttled_per_ip(app, client, world, make_user):
    app.config["LOGIN_LIMIT_PER_IP"] = "3 per 15 minutes"
    for n in range(3):
        login(client, f"someone{n}@nowhere.example", "wrong password 123")
    other = make_user("therapist", world.district)
    assert login(client, other, PASSWORD).status_code == 429


def test_successful_logins_do_not_use_up_the_limit(client, world):
    for _ in range(7):
        assert login(client, world.therapist).status_code == 302
        post(client, "/logout")


def test_logout_revokes_the_session_so_a_replayed_cookie_fails(app, client, world):
    login(client, world.therapist)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert post(client, "/logout").status_code == 302
    replay = app.test_client()
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    response = replay.get("/home")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    row = db.session.scalar(select(UserSession))
    assert row.revoked_at is not None and row.revoked_reason == "logout"


def test_logout_is_refused_on_get(client, world):
    login(client, world.therapist)
    assert client.get("/logout").status_code == 405
    assert client.get("/home").status_code == 200


def test_deactivation_revokes_every_session_of_the_user(app, world, login_as):
    browser_one, browser_two = app.test_client(), app.test_client()
    login(browser_one, world.therapist)
    login(browser_two, world.therapist)
    assert browser_one.get("/home").status_code == 200
    admin = app.test_client()
    login(admin, world.district_admin)
    response = post(admin, f"/staff/{world.therapist.id}/deactivate")
    assert response.status_code == 302
    for browser in (browser_one, browser_two):
        assert browser.get("/home").status_code == 302
    rows = db.session.scalars(select(UserSession).where(UserSession.user_id == world.therapist.id)).all()
    assert len(rows) == 2 and all(r.revoked_reason == "deactivated" for r in rows)
    assert _events("user.deactivated")[0].target_id == world.therapist.id


def test_idle_session_expires_after_30_minutes(client, world):
    login(client, world.therapist)
    row = db.session.scalar(select(UserSession))
    row.last_seen_at = utcnow() - timedelta(minutes=31)
    db.session.commit()
    assert client.get("/home").status_code == 302
    db.session.refresh(row)
    assert row.revoked_reason == "idle_timeout"


def test_session_expires_after_12_hours_even_when_active(client, world):
    login(client, world.therapist)
    row = db.session.scalar(select(UserSession))
    row.created_at = utcnow() - timedelta(hours=12, minutes=1)
    row.last_seen_at = utcnow()
    db.session.commit()
    assert client.get("/home").status_code == 302
    db.session.refresh(row)
    assert row.revoked_reason == "absolute_lifetime"


def test_login_without_csrf_token_is_rejected(client, world):
    client.get("/login")
    response = client.post("/login", data={"email": world.therapist.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert client.get("/home").status_code == 302


def test_state_changing_post_with_wrong_csrf_token_changes_nothing(app, client, world):
    login(client, world.district_admin)
    response = client.post(f"/staff/{world.therapist.id}/deactivate", data={"csrf_token": "forged"})
    assert response.status_code == 400
    db.session.refresh(world.therapist)
    assert world.therapist.active


def test_safe_next_redirect_is_followed(client, world):
    client.get(f"/login?next=/students/{world.own_student.id}")
    token = get_csrf(client, f"/login?next=/students/{world.own_student.id}")
    response = client.post("/login", data={"email": world.therapist.email, "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == f"/students/{world.own_student.id}"


def test_offsite_next_redirects_are_ignored(client, world):
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
                 "http:/evil.example", "/%0d%0aSet-Cookie:x"):
        c = client.application.test_client()
        token = get_csrf(c, "/login?next=" + evil)
        response = c.post("/login", data={"email": world.therapist.email, "password": PASSWORD, "csrf_token": token})
        assert response.headers["Location"] == "/home", evil


def test_session_cookie_is_httponly_and_samesite(client, world):
    response = login(client, world.therapist)
    cookie = response.headers.get("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_rotates_the_session_against_fixation(app, client, world):
    client.get("/login")
    before = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    login(client, world.therapist)
    after = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert before != after
