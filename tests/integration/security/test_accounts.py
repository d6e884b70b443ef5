"""Accounts against an attacker: guessing is throttled, a copied cookie dies with its session, a
deactivated person's sockets close within 2 seconds, production cookies are locked down.

One clearly named test per acceptance point. Where the point is already proven elsewhere, the
test here covers what that one does not, and the docstring names the other:

* login guessing, one account, one address: tests/integration/auth/test_login.py
  test_failed_logins_are_throttled_per_account and test_failed_logins_are_throttled_per_ip;
* join-code guessing: tests/integration/sessions/test_views.py
  test_join_code_attempts_are_rate_limited_per_ip and test_join_is_rate_limited_per_room;
* staff cookie replayed over HTTP after logout: test_login.py
  test_logout_revokes_the_session_so_a_replayed_cookie_fails;
* a deactivated therapist's /call sockets (service call): tests/integration/sessions/test_sockets.py
  test_therapist_deactivation_ends_the_room_within_2s;
* the production session cookie on GET /login: tests/integration/core/test_headers.py
  test_production_has_hsts_secure_host_cookie_and_no_outbox.
"""

from __future__ import annotations

import time
from http.cookies import SimpleCookie

from sqlalchemy import select

from app.db_types import utcnow
from app.extensions import db
from config import ProductionConfig
from tests.conftest import PASSWORD, get_csrf, login, post
from tests.integration.games import conftest as games_fixtures
from tests.integration.sessions import conftest as session_fixtures

# The live-session and games fixtures, used here as in their own directories.
live_room, socket_for, student_client = (session_fixtures.live_room, session_fixtures.socket_for,
                                         session_fixtures.student_client)
game_room, games_socket, signed_in, therapist_client = (games_fixtures.game_room, games_fixtures.games_socket,
                                                        games_fixtures.signed_in, games_fixtures.therapist_client)


def _login_from(app, email, password, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = get_csrf(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


# --- guessing -------------------------------------------------------------------------------------


def test_login_guessing_against_one_account_is_throttled_from_any_address(app, world):
    """Per account, whatever the address and however the email is spelled (case, spaces): an
    attacker rotating addresses still gets five tries, then even the right password waits."""
    spellings = ["t@alpha.example", "T@ALPHA.EXAMPLE", "  t@alpha.example ", "t@Alpha.Example", "t@alpha.example"]
    for n, email in enumerate(spellings):
        assert _login_from(app, email, "wrong password 123", f"198.51.100.{n + 1}").status_code == 200
    response = _login_from(app, world.therapist.email, PASSWORD, "203.0.113.77")
    assert response.status_code == 429
    assert _login_from(app, world.other_therapist.email, PASSWORD, "203.0.113.78").status_code == 302


def test_login_guessing_from_one_address_is_throttled_across_accounts(app, world):
    """Per address: spraying one password over many accounts stops after LOGIN_LIMIT_PER_IP."""
    app.config["LOGIN_LIMIT_PER_IP"] = "4 per 15 minutes"
    for n in range(4):
        assert _login_from(app, f"user{n}@alpha.example", "Summer2024!!", "192.0.2.9").status_code == 200
    assert _login_from(app, world.therapist.email, PASSWORD, "192.0.2.9").status_code == 429
    assert _login_from(app, world.therapist.email, PASSWORD, "192.0.2.10").status_code == 302


def test_join_code_and_join_link_guessing_is_throttled_per_address(app, world, live_room):
    """Wrong codes in any spelling (case, spaces) and wrong link tokens each use up the address's
    budget; once spent, even the right code or link waits. Another address is not affected."""
    app.config["JOIN_LIMIT_PER_IP"] = "4 per 10 minutes"
    room = live_room()
    link_token = services_new_link(room)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.50"
    token = get_csrf(client, "/join")
    codes = [client.post("/join", data={"code": guess, "csrf_token": token}).status_code
             for guess in ("ZZZZZZ", "aaaaaa", " QQQQQQ ", "zz-zz-zz")]
    assert codes == [200] * 4
    assert client.post("/join", data={"code": room.join_code, "csrf_token": token}).status_code == 429
    links = [client.post(f"/join/{guess}", data={"csrf_token": token}).status_code
             for guess in ("not-a-token", "x" * 43, link_token[:-1], link_token.upper())]
    assert links == [200] * 4
    assert client.post(f"/join/{link_token}", data={"csrf_token": token}).status_code == 429
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.51"
    assert other.post("/join", data={"code": room.join_code, "csrf_token": get_csrf(other, "/join")}).status_code == 302


def services_new_link(room) -> str:
    from app.sessions import services

    return services.issue_join_link(room.therapist, room)


# --- replayed cookies -----------------------------------------------------------------------------


def test_staff_cookie_replayed_after_logout_cannot_open_a_socket_and_open_sockets_stop(app, world, live_room,
                                                                                       socket_for):
    """After logout, the copied cookie opens no socket, and the socket opened before logout is
    refused on its next event (sockets re-check the server-side session on every event)."""
    room = live_room()
    browser = app.test_client()
    login(browser, world.therapist)
    before = socket_for(browser, room)
    assert before.is_connected("/call")
    cookie = browser.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert post(browser, "/logout").status_code == 302

    replay = app.test_client()
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    assert replay.get("/home").status_code == 302
    assert not socket_for(replay, room).is_connected("/call")
    assert not socket_for(replay, room, namespace="/waiting").is_connected("/waiting")
    ack = before.emit("ice_servers", None, namespace="/call", callback=True)
    assert ack["ok"] is False and ack["code"] == "forbidden"


def test_student_grant_cookie_replayed_after_the_session_ended_is_refused(app, world, live_room, student_client,
                                                                          socket_for):
    """A student has no account to log out of: their cookie holds a grant for one room. Once the
    session ends, a copy of that cookie opens neither the pages nor the sockets."""
    from app.sessions import services

    room = live_room()
    student = student_client(room)
    cookie = student.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    code = room.join_code
    assert socket_for(student, room).is_connected("/call")
    services.end_room(room, "therapist_ended", actor=world.therapist)

    replay = app.test_client()
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    page = replay.get(f"/sessions/rooms/{room.id}/waiting").get_data(as_text=True)
    assert "This session has ended" in page and code not in page
    for namespace in ("/call", "/waiting", "/games"):
        assert not socket_for(replay, room, namespace=namespace).is_connected(namespace), namespace


def test_student_grant_cookie_replayed_after_the_grant_was_replaced_is_refused(app, world, live_room, student_client,
                                                                               socket_for):
    """The one student seat went to a newer grant (a rejoin): the older cookie is worthless."""
    from app.sessions import services

    room = live_room()
    first = student_client(room)
    cookie = first.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    newer = student_client(room, admitted=False)
    services.admit(room.therapist, room, newer.grant)

    replay = app.test_client()
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    assert not socket_for(replay, room).is_connected("/call")
    assert not socket_for(replay, room, namespace="/waiting").is_connected("/waiting")
    assert socket_for(newer, room).is_connected("/call")


# --- deactivation -------------------------------------------------------------------------------


def test_deactivated_therapist_loses_call_and_games_sockets_within_2s(app, world, game_room, games_socket,
                                                                      therapist_client, socket_for):
    """Deactivated by a district admin through the staff page: every socket of the therapist, and
    of the student in their room, in /call and /games, is closed within 2 seconds."""
    room = game_room()
    call = socket_for(therapist_client, room)
    games = games_socket(therapist_client, room)
    student_call = socket_for(room.student_client, room)
    student_games = games_socket(room.student_client, room)
    sockets = [(call, "/call"), (games, "/games"), (student_call, "/call"), (student_games, "/games")]
    assert all(sock.is_connected(namespace) for sock, namespace in sockets)

    admin = app.test_client()
    login(admin, world.district_admin)
    token = get_csrf(admin, f"/staff/{world.therapist.id}")
    started = time.monotonic()
    response = admin.post(f"/staff/{world.therapist.id}/deactivate", data={"csrf_token": token})
    assert response.status_code == 302
    while time.monotonic() - started < 2 and any(sock.is_connected(ns) for sock, ns in sockets):
        time.sleep(0.02)
    still_open = [ns for sock, ns in sockets if sock.is_connected(ns)]
    assert not still_open, f"open after {time.monotonic() - started:.2f}s: {still_open}"
    assert therapist_client.get("/home").status_code == 302  # and the HTTP session is gone too


# --- production cookies -------------------------------------------------------------------------


def _set_cookies(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def test_production_cookies_are_secure_httponly_samesite_and_host_prefixed(monkeypatch, database_url, world,
                                                                           make_app):
    """Every cookie production sets, before and after sign-in and at sign-out: `__Host-` prefix,
    Secure, HttpOnly, SameSite, Path=/ and no Domain. No "remember me" cookie is ever set, and
    the CSRF token lives in the (server-checked) session, not in a cookie of its own."""
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", "ZGV2LW9ubHktbm90LXNlY3JldC1rZXktMzItYnl0ZXM=")
    app = make_app(ProductionConfig, SQLALCHEMY_DATABASE_URI=database_url, PUBLIC_BASE_URL="https://hr.example")
    assert app.config["WTF_CSRF_ENABLED"] is not False and not app.config.get("WTF_CSRF_COOKIE_NAME")
    for prefix in ("SESSION", "REMEMBER"):
        assert app.config[f"{prefix}_COOKIE_NAME"].startswith("__Host-"), prefix
        assert app.config[f"{prefix}_COOKIE_SECURE"] and app.config[f"{prefix}_COOKIE_HTTPONLY"], prefix
        assert app.config[f"{prefix}_COOKIE_SAMESITE"] in ("Lax", "Strict"), prefix
        assert not app.config.get(f"{prefix}_COOKIE_DOMAIN"), prefix

    client = app.test_client()
    base = "https://hr.example"
    headers = {"Referer": base + "/login"}  # Flask-WTF checks the referrer on HTTPS
    responses = [client.get("/login", base_url=base)]
    token = _csrf_from(client, base)
    responses.append(client.post("/login", base_url=base, headers=headers, data={
        "email": world.guardian.email, "password": PASSWORD, "csrf_token": token}))
    assert responses[-1].status_code == 302 and responses[-1].headers["Location"] == "/home"
    responses.append(client.get("/home", base_url=base))
    assert responses[-1].status_code == 200
    responses.append(client.post("/language", base_url=base, headers={"Referer": base + "/home"},
                                 data={"lang": "es", "csrf_token": _csrf_from(client, base, "/home")}))
    responses.append(client.post("/logout", base_url=base, headers={"Referer": base + "/home"},
                                 data={"csrf_token": _csrf_from(client, base, "/home")}))
    assert responses[-1].status_code == 302

    cookies = [header for response in responses for header in _set_cookies(response)]
    assert cookies, "no cookie was set at all"
    for header in cookies:
        name = next(iter(SimpleCookie(header)))
        attributes = [part.strip().lower() for part in header.split(";")[1:]]
        assert name.startswith("__Host-"), header
        assert "secure" in attributes and "httponly" in attributes, header
        assert any(a in ("samesite=lax", "samesite=strict") for a in attributes), header
        assert "path=/" in attributes and not any(a.startswith("domain=") for a in attributes), header
        assert "remember" not in name, f"a remember-me cookie was set: {header}"
    from app.auth.models import UserSession

    with app.app_context():
        rows = db.session.scalars(select(UserSession).where(UserSession.user_id == world.guardian.id)).all()
        assert rows and all(row.revoked_at is not None and row.revoked_at <= utcnow() for row in rows)


def _csrf_from(client, base, path="/login") -> str:
    from tests.conftest import csrf_from

    return csrf_from(client.get(path, base_url=base).get_data(as_text=True))
