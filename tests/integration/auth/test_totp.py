import re
from datetime import UTC, datetime

import pyotp
from sqlalchemy import select, text

from app.auth.models import User
from app.auth.services import verify_totp
from app.extensions import db
from tests.conftest import PASSWORD, csrf_from, get_csrf, login


def _code(secret, at=None):
    return pyotp.TOTP(secret).at(at or datetime.now(UTC))


def test_therapist_can_enrol_in_totp_and_is_then_asked_for_a_code(app, client, world):
    login(client, world.therapist)
    page = client.get("/account/totp").get_data(as_text=True)
    secret = re.search(r'class="secret">([A-Z2-7]+)<', page).group(1)
    assert "<svg" in page  # the QR code
    response = client.post("/account/totp", data={"code": _code(secret), "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    user = db.session.get(User, world.therapist.id)
    db.session.refresh(user)
    assert user.totp_secret == secret
    # Stored encrypted, not in clear.
    raw = db.session.execute(text("SELECT totp_secret FROM users WHERE id = :i"), {"i": user.id}).scalar()
    assert secret not in raw

    fresh = app.test_client()
    response = login(fresh, world.therapist)
    assert response.headers["Location"] == "/login/verify"
    assert fresh.get("/home").status_code == 302  # not signed in yet
    wrong = fresh.post("/login/verify", data={"code": "000000", "csrf_token": get_csrf(fresh, "/login/verify")})
    assert wrong.status_code == 200 and "did not work" in wrong.get_data(as_text=True)
    user.totp_last_step = None
    db.session.commit()
    ok = fresh.post("/login/verify", data={"code": _code(secret), "csrf_token": get_csrf(fresh, "/login/verify")})
    assert ok.status_code == 302 and ok.headers["Location"] == "/home"
    assert fresh.get("/home").status_code == 200


def test_a_totp_code_cannot_be_replayed(app, world):
    secret = pyotp.random_base32()
    world.therapist.totp_secret = secret
    db.session.commit()
    now = datetime.now(UTC)
    code = _code(secret, now)
    assert verify_totp(world.therapist, code, now=now)
    assert not verify_totp(world.therapist, code, now=now)


def test_staff_must_enrol_before_signing_in_when_mfa_is_required(app, client, world):
    app.config["MFA_REQUIRED"] = True
    response = login(client, world.school_admin)
    assert response.headers["Location"] == "/login/mfa-setup"
    page = client.get("/login/mfa-setup").get_data(as_text=True)
    secret = re.search(r'class="secret">([A-Z2-7]+)<', page).group(1)
    response = client.post("/login/mfa-setup", data={"code": _code(secret), "csrf_token": csrf_from(page)})
    assert response.status_code == 302 and response.headers["Location"] == "/home"
    assert client.get("/home").status_code == 200


def test_guardians_are_not_asked_for_totp_when_mfa_is_required(app, client, world):
    app.config["MFA_REQUIRED"] = True
    assert login(client, world.guardian).headers["Location"] == "/home"


def test_pending_mfa_cannot_reach_signed_in_pages(app, client, world):
    world.therapist.totp_secret = pyotp.random_base32()
    db.session.commit()
    login(client, world.therapist)
    assert client.get("/home").status_code == 302
    assert client.get("/account").status_code == 302


def test_totp_guessing_is_throttled(app, client, world):
    world.therapist.totp_secret = pyotp.random_base32()
    db.session.commit()
    login(client, world.therapist, PASSWORD)
    statuses = [
        client.post("/login/verify", data={"code": "123456", "csrf_token": get_csrf(client, "/login/verify")}).status_code
        for _ in range(6)
    ]
    assert statuses[-1] == 429 and statuses[0] == 200


def test_guardian_cannot_enrol_totp_page(app, client, world):
    login(client, world.guardian)
    assert client.get("/account/totp").status_code == 403
    assert db.session.scalar(select(User.totp_secret).where(User.id == world.guardian.id)) is None
