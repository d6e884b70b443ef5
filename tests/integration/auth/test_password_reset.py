import re
from datetime import timedelta

from sqlalchemy import select

from app.auth.models import UserSession
from app.auth.services import make_reset_token, user_for_reset_token
from app.extensions import db
from app.notifications.services import outbox_messages
from tests.conftest import get_csrf, login, post


def _reset_link(app) -> str:
    messages = outbox_messages()
    assert messages, "no email was sent"
    match = re.search(r"http://localhost(/password/reset/\S+)", messages[0].text)
    assert match
    return match.group(1)


def _request_reset(client, email):
    return client.post("/password/forgot", data={"email": email, "csrf_token": get_csrf(client, "/password/forgot")})


def test_guardian_can_reset_password_by_emailed_single_use_link(app, client, world):
    response = _request_reset(client, world.guardian.email)
    assert response.status_code == 302
    link = _reset_link(app)
    token = get_csrf(client, link)
    new = "a brand new long passphrase"
    response = client.post(link, data={"password": new, "confirm": new, "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert login(client, world.guardian, new).status_code == 302
    # The same link cannot be used twice.
    other = app.test_client()
    assert other.get(link).status_code == 400


def test_unknown_email_gets_the_same_answer_and_no_mail(app, client, world):
    known = _request_reset(client, world.guardian.email)
    unknown = _request_reset(client, "nobody@nowhere.example")
    assert known.status_code == unknown.status_code == 302
    assert len(outbox_messages()) == 1


def test_reset_link_expires_after_30_minutes(app, world):
    token = make_reset_token(world.guardian, app.config["SECRET_KEY"])
    assert user_for_reset_token(token, app.config["SECRET_KEY"], timedelta(minutes=30)).id == world.guardian.id
    assert user_for_reset_token(token, app.config["SECRET_KEY"], timedelta(seconds=-1)) is None


def test_tampered_reset_token_is_refused(app, client, world):
    token = make_reset_token(world.guardian, app.config["SECRET_KEY"])
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/password/reset/{tampered}").status_code == 400
    forged = make_reset_token(world.guardian, "another-secret")
    assert client.get(f"/password/reset/{forged}").status_code == 400


def test_password_reset_signs_out_every_session(app, world):
    browser = app.test_client()
    login(browser, world.guardian)
    assert browser.get("/home").status_code == 200
    client = app.test_client()
    _request_reset(client, world.guardian.email)
    link = _reset_link(app)
    new = "another long passphrase"
    client.post(link, data={"password": new, "confirm": new, "csrf_token": get_csrf(client, link)})
    assert browser.get("/home").status_code == 302
    assert all(r.revoked_at for r in db.session.scalars(select(UserSession)))


def test_weak_new_password_is_refused_with_a_reason(app, client, world):
    _request_reset(client, world.guardian.email)
    link = _reset_link(app)
    response = client.post(link, data={"password": "short", "confirm": "short", "csrf_token": get_csrf(client, link)})
    assert response.status_code == 200
    assert "at least 12" in response.get_data(as_text=True)
    assert login(app.test_client(), world.guardian).status_code == 302  # old password still works


def test_signed_in_user_can_change_password_and_other_sessions_end(app, world):
    one, two = app.test_client(), app.test_client()
    login(one, world.therapist)
    login(two, world.therapist)
    new = "my changed passphrase!"
    response = post(one, "/account/password",
                    {"current": "correct horse battery staple", "password": new, "confirm": new})
    assert response.status_code == 302
    assert one.get("/home").status_code == 200
    assert two.get("/home").status_code == 302
    assert login(app.test_client(), world.therapist, new).status_code == 302


def test_reset_link_ignores_a_forged_host_header(app, client, world):
    from tests.conftest import csrf_from

    evil = {"Host": "evil.example"}
    token = csrf_from(client.get("/password/forgot", headers=evil).get_data(as_text=True))
    response = client.post("/password/forgot", data={"email": world.guardian.email, "csrf_token": token}, headers=evil)
    assert response.status_code == 302
    text = outbox_messages()[0].text
    assert "evil.example" not in text and "http://localhost/password/reset/" in text
