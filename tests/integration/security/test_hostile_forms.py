"""Hostile form posts: every route that accepts POST (or PUT/PATCH/DELETE), signed in as someone
allowed to use it, posted Hypothesis-generated forms: random and real field names, huge values,
unicode edge cases, repeated keys, and files (a roster CSV that is malformed, binary, huge or
full of spreadsheet formulas) where the form takes one.

Never a 5xx; and when the answer is an error (a 4xx, a page showing field errors, or an error
message), not one row of the database changed. Excluded from that comparison: `audit_events`
(the audit log records refused attempts by design, e.g. `auth.login_failed`) and a session's
`last_seen_at` (touched by any request). Without a CSRF token every POST is a 400 that writes nothing.

The routes are read from `app.url_map`; `test_every_post_route_is_covered` fails for a new one
until it is given an actor here (the URLs come from the permission matrix's world).
"""

from __future__ import annotations

import io
import re
from urllib.parse import urlencode

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from tests.conftest import get_csrf, login
from tests.integration.security.hostile_data import HOSTILE_SETTINGS, NASTY_STRINGS, diff, nasty_text, snapshot
from tests.integration.test_permission_matrix import ROUTES, _rooms

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
EXCLUDED_TABLES = frozenset({"audit_events"})
ERROR_MARKERS = ('class="field-error"', "field--error", 'aria-invalid="true"', "flash--error")
FORM_SETTINGS = settings(HOSTILE_SETTINGS, max_examples=15)


def _student(world, app):
    """A browser holding a student grant (joined by code, not yet ready) for world's own room."""
    from app.sessions import services

    room = _rooms(world)["own_room"]
    client = app.test_client()
    grant = services.redeem_code(room.join_code)
    with client.session_transaction() as session:
        session["student_grants"] = {str(room.id): grant.id}
    return client


#: Actors the matrix has no role for.
SPECIAL_ACTORS = {"sessions.assent": _student}
#: Roles in the order we prefer them for a route that several may use.
PREFERENCE = ("anonymous", "therapist", "district_admin", "school_admin", "guardian")


def _role_for(endpoint: str) -> str:
    """The role the matrix expects to be served on the route's own object: a 200 (anonymous first:
    the public forms), else a signed-in role redirected, refused as a bad request or for the
    object's state (a note for a session still in the future) — never one that gets a 404."""
    expected = ROUTES[endpoint].expected

    def status(role):
        value = expected[role]
        return value[0] if isinstance(value, tuple) else value

    for role in PREFERENCE:
        if status(role) == 200:
            return role
    for wanted in (302, 400, 403):  # signed in and let through, else refused for a reason of state
        for role in PREFERENCE[1:]:
            if status(role) == wanted:
                return role
    return "anonymous"


def _post_endpoints(app) -> dict[str, object]:
    return {rule.endpoint: rule for rule in app.url_map.iter_rules() if rule.methods & WRITE_METHODS}


def test_every_post_route_is_covered(app):
    missing = [endpoint for endpoint in _post_endpoints(app) if endpoint not in POST_ENDPOINTS]
    assert not missing, f"add these routes to POST_ENDPOINTS (and to the permission matrix): {missing}"
    stale = [endpoint for endpoint in POST_ENDPOINTS if endpoint not in _post_endpoints(app)]
    assert not stale, f"these POST_ENDPOINTS no longer accept POST: {stale}"
    for endpoint in POST_ENDPOINTS:
        assert endpoint in ROUTES, f"{endpoint} is not in the permission matrix"


#: Every route that accepts POST, PUT, PATCH or DELETE (checked against app.url_map above).
POST_ENDPOINTS = sorted([
    "auth.change_password", "auth.revoke_other_sessions", "auth.enrol_totp", "auth.remove_totp",
    "districts.assign_caseloads", "consent.forms", "consent.resend", "consent.invitation", "consent.switch_account",
    "consent.revoke", "consent.sign", "consent.new_request", "districts.edit_guardian_link",
    "districts.remove_guardian_link", "sessions.join", "sessions.join_link", "core.set_language", "auth.login",
    "auth.mfa_setup", "auth.verify_totp", "auth.logout", "auth.forgot_password", "auth.reset_password",
    "preflight.ice_servers", "districts.roster", "districts.roster_apply", "scheduling.attendance",
    "scheduling.cancel", "scheduling.reschedule", "scheduling.availability", "scheduling.delete_availability",
    "scheduling.make_default_schedule", "scheduling.delete_bell_schedule", "scheduling.add_period", "scheduling.book",
    "scheduling.delete_calendar_day", "scheduling.reminder_preference", "scheduling.regenerate_feed",
    "scheduling.revoke_feed", "scheduling.delete_period", "scheduling.add_bell_schedule",
    "scheduling.add_calendar_days", "scheduling.teachers", "scheduling.delete_teacher", "scheduling.add_time_off",
    "scheduling.delete_time_off", "districts.edit_school", "districts.create_school", "session_notes.save_note",
    "sessions.open_room", "sessions.email_link", "sessions.end", "sessions.new_link", "sessions.assent",
    "districts.deactivate_staff", "districts.reactivate_staff", "districts.resend_invitation",
    "districts.change_staff_role", "districts.staff_schools", "districts.invite_staff", "districts.edit_student",
    "districts.add_guardian_link", "districts.accept_invite",
])


# --- what to post ------------------------------------------------------------------------------


def _field_names() -> list[str]:
    """Every field name of every form in the app, so hostile values reach real fields too."""
    from flask_wtf import FlaskForm
    from wtforms.fields.core import UnboundField

    import app.models  # noqa: F401 - imports every domain (and so every form module)

    names, todo = set(), list(FlaskForm.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        names.update(name for name in dir(cls) if isinstance(getattr(cls, name, None), UnboundField))
    names.discard("csrf_token")
    return sorted(names) or ["email"]


def _forms_vocabulary():
    from app import create_app  # noqa: F401 - forms are defined once the app package is imported

    return _field_names()


values = st.one_of(
    nasty_text,
    st.sampled_from(["0", "-1", "1", "2147483648", "9223372036854775808", "9" * 60, "1e400", "NaN", "-inf",
                     "2024-02-30", "0000-00-00", "9999-12-31T99:99", "25:61", "yes", "on", "true", "y",
                     "student", "therapist", "district_admin", "es", "en", "video_sessions", "games", "signed",
                     "declined", "@", "a@b", "x@example.org"]),
    st.integers().map(str),
    st.just("x" * (1024 * 1024)),  # a 1 MB value
)


def _forms(field_names: list[str]):
    keys = st.one_of(st.sampled_from(field_names), nasty_text, st.sampled_from(["", "csrf_token[]", "a[b]", "__proto__"]))
    # A list of pairs, so the same key can come several times.
    return st.lists(st.tuples(keys, values), max_size=10)


CSV_HEADER = "sourcedId,role,givenName,familyName,grade,birthDate,schoolSourcedId,email\n"
roster_files = st.one_of(
    st.binary(max_size=2048),
    st.sampled_from([
        b"",
        b"\xff\xfe\x00\x00garbage",
        b"\x00" * 4096,
        ("\ufeff" + CSV_HEADER).encode("utf-8"),
        (CSV_HEADER + "=cmd|' /C calc'!A0,student,=HYPERLINK(\"http://evil\"),+1+1,@SUM(1),-2,s1,x@y\n").encode(),
        (CSV_HEADER + "\"unterminated,student,A,B\n").encode(),
        (CSV_HEADER + "a,b\n" * 20000).encode(),
        (CSV_HEADER + ("1,student," + "x" * 100_000 + ",B,4,2016-01-01,s1,\n")).encode(),
        ("sourcedId;role;givenName\n1;student;\u202eevil\n").encode("utf-16"),
        (CSV_HEADER + "1,student,\ud800,B,4,2016-01-01,s1,\n").encode("utf-8", "surrogatepass"),
        b"x" * (3 * 1024 * 1024),  # bigger than any roster we accept
    ]),
    st.lists(st.lists(nasty_text, min_size=1, max_size=8).map(lambda row: ",".join(row)), max_size=20)
    .map(lambda rows: (CSV_HEADER + "\n".join(rows)).encode("utf-8", "surrogatepass")),
)
file_names = st.one_of(st.sampled_from(["roster.csv", "", "../../etc/passwd", "a\x00.csv", "\u202ecsv.exe",
                                        "x" * 5000]), nasty_text)


# --- running one route ---------------------------------------------------------------------------


def _actor(app, world, endpoint):
    if endpoint in SPECIAL_ACTORS:
        return SPECIAL_ACTORS[endpoint](world, app), "student"
    role = _role_for(endpoint)
    client = app.test_client()
    if role != "anonymous":
        assert login(client, getattr(world, role)).status_code == 302, f"could not sign in as {role}"
    return client, role


def _url(world, endpoint) -> str:
    route = ROUTES[endpoint]
    return route.url(world, route.variants[0])


def _is_error(client, response) -> bool:
    if response.status_code >= 400:
        return True
    body = response.get_data(as_text=True)
    if any(marker in body for marker in ERROR_MARKERS):
        return True
    if response.status_code in (301, 302, 303):
        with client.session_transaction() as session:
            return any(category == "error" for category, _message in session.get("_flashes", []))
    return False


def _token(client, role) -> str:
    return get_csrf(client, "/login" if role == "anonymous" else "/home") if role != "student" else _student_token(
        client)


def _student_token(client) -> str:
    return get_csrf(client, "/join")


def _encoded(pairs) -> bytes:
    """An x-www-form-urlencoded body, built by hand: a lone surrogate becomes the (invalid UTF-8)
    bytes an attacker can send, which the test client would refuse to encode."""
    return urlencode([(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass"))
                      for k, v in pairs]).encode("ascii")


def _printable(text: str) -> str:
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _clear_flashes(client):
    with client.session_transaction() as session:
        session.pop("_flashes", None)


@pytest.fixture
def app_config(app_config):
    """Rate limits would answer 429 before the form is even read: switch them off here (they are
    tested in test_accounts.py and tests/integration/auth)."""
    return {**app_config, "RATELIMIT_ENABLED": False}


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_hostile_form_never_fails_and_a_refusal_writes_nothing(app, world, endpoint):
    client, role = _actor(app, world, endpoint)
    url = _url(world, endpoint)
    token = _token(client, role)
    takes_file = endpoint == "districts.roster"
    fields = _forms_vocabulary()

    @FORM_SETTINGS
    @given(pairs=_forms(fields), upload=st.tuples(roster_files, file_names) if takes_file else st.none())
    def posted(pairs, upload):
        from flask.testing import EnvironBuilder
        from werkzeug.datastructures import MultiDict

        note(f"{role} POST {url}: {str(pairs)[:400]}")
        pairs = [*pairs, ("csrf_token", token)]
        if upload is not None:  # multipart: the test client encodes it, so only valid text
            content, name = upload
            data = MultiDict([(_printable(k), _printable(v)) for k, v in pairs])
            data.add("file", (io.BytesIO(content), _printable(name)))
            request = {"data": data, "content_type": "multipart/form-data"}
        else:
            request = {"data": _encoded(pairs), "content_type": "application/x-www-form-urlencoded"}
        _clear_flashes(client)
        before = snapshot(EXCLUDED_TABLES)
        builder = EnvironBuilder(app=app, path=url, method="POST", **request)
        try:
            response = client.open(builder)
        finally:
            builder.close()
        response.request.environ["wsgi.input"].close()  # the test client spools a big body to a file
        assert response.status_code < 500, f"{role} POST {url} -> {response.status_code}"
        if _is_error(client, response):
            changed = diff(before, snapshot(EXCLUDED_TABLES))
            assert not changed, f"{role} POST {url} -> {response.status_code} (an error) but wrote {changed}"
        response.close()

    posted()


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_post_without_csrf_token_is_refused_and_writes_nothing(app, world, endpoint):
    client, role = _actor(app, world, endpoint)
    url = _url(world, endpoint)
    before = snapshot(EXCLUDED_TABLES)
    for pairs in ([], [("csrf_token", "")], [("csrf_token", "forged")], [("csrf_token", NASTY_STRINGS[4])],
                  [("email", "x@example.org"), ("password", "p" * 20), ("code", "ABCDEF"), ("choice", "yes")]):
        response = client.post(url, data=_encoded(pairs), content_type="application/x-www-form-urlencoded")
        assert response.status_code == 400, f"{role} POST {url} with {pairs} -> {response.status_code}"
    assert not diff(before, snapshot(EXCLUDED_TABLES))


def test_huge_ids_in_urls_are_not_found_not_server_errors(app, world):
    """`<int:...>` segments beyond any database id (SQLite cannot even bind them) match no route."""
    client = app.test_client()
    login(client, world.district_admin)
    token = get_csrf(client, "/home")
    checked = 0
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        for big in (2**31, 2**63, 10**30):
            path = re.sub(r"<int:[^>]+>", str(big), re.sub(r"<(?!int:)[^>]+>", "x", rule.rule))
            for method in sorted(rule.methods & {"GET", "POST"}):
                response = client.open(path, method=method, data={"csrf_token": token})
                assert response.status_code in (404, 405), f"{method} {path} -> {response.status_code}"
                checked += 1
    assert checked > 50


def test_roster_with_a_cell_over_the_csv_field_limit_is_refused_plainly(app, world):
    """Found by the hostile forms: one cell over the csv module's 128 KB field limit was a 500."""
    client = app.test_client()
    login(client, world.district_admin)
    token = get_csrf(client, "/roster")
    before = snapshot(EXCLUDED_TABLES)
    content = (CSV_HEADER + "1,student," + "x" * 200_000 + ",B\n").encode()
    response = client.post("/roster", data={"csrf_token": token, "file": (io.BytesIO(content), "roster.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"] == "/roster"
    with client.session_transaction() as session:
        assert ("error", "The file could not be read as CSV. Save it from your spreadsheet as “CSV UTF-8”.") in [
            tuple(flash) for flash in session["_flashes"]]
    assert not diff(before, snapshot(EXCLUDED_TABLES))


def test_nul_characters_are_a_bad_request_on_every_post_route(app, world):
    """Found by the hostile forms on PostgreSQL: a NUL in a school's name was a 500 (PostgreSQL
    cannot store or compare NUL). NUL in any field, field name, file name or query is now a 400."""
    fields = _forms_vocabulary()
    targets = []
    for endpoint in POST_ENDPOINTS:  # signing in and the matrix's URLs write rows: all of it first
        client, role = _actor(app, world, endpoint)
        targets.append((client, role, _token(client, role), _url(world, endpoint)))
    roster_client, roster_role = _actor(app, world, "districts.roster")
    roster_token = _token(roster_client, roster_role)
    before = snapshot(EXCLUDED_TABLES)
    for client, role, token, url in targets:
        valid_looking = [("name", "Nul\x00School"), ("timezone", "America/Los_Angeles"), ("csrf_token", token)]
        for pairs in (valid_looking, [*[(name, "x\x00y") for name in fields], ("csrf_token", token)],
                      [("na\x00me", "x"), ("csrf_token", token)]):
            response = client.post(url, data=_encoded(pairs), content_type="application/x-www-form-urlencoded")
            assert response.status_code == 400, f"{role} POST {url} -> {response.status_code}"
    response = roster_client.post("/roster", content_type="multipart/form-data", data={
        "csrf_token": roster_token, "file": (io.BytesIO(CSV_HEADER.encode()), "roster\x00.csv")})
    assert response.status_code == 400
    assert roster_client.get("/students?q=%00").status_code == 400
    assert not diff(before, snapshot(EXCLUDED_TABLES))
