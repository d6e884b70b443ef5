"""Fixtures: an app and a clean, migrated database per test, and factories for test data.

The schema always comes from the Alembic migrations (never create_all), so tests run against
exactly what production runs. SQLite: the migrated database is built once per run and copied
per test. PostgreSQL (DATABASE_URL set): migrated once per run, tables truncated per test.
"""

from __future__ import annotations

import gc
import itertools
import os
import re
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask.globals import _cv_app
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from app import create_app
from app.auth import services as auth_services
from app.extensions import db
from config import TestConfig, normalise_database_url

PASSWORD = "correct horse battery staple"
# Argon2 with tiny costs so a test run hashes in microseconds; production keeps RFC 9106 defaults.
auth_services._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
auth_services._DUMMY_HASH = auth_services._hasher.hash("dummy-password")
PASSWORD_HASH = auth_services._hasher.hash(PASSWORD)

IN_CI = bool(os.environ.get("CI"))
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")


def pytest_sessionstart(session):
    """Compile the translation catalogs (as `make translations` does) so a bare pytest run works."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in (Path(__file__).resolve().parents[1] / "app" / "translations").glob("*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime:
            with open(po_path, "rb") as po_file:
                catalog = read_po(po_file)
            with open(mo_path, "wb") as mo_file:
                write_mo(mo_file, catalog)


def need_service(name: str, available: bool) -> None:
    """Skip with a reason when a service is absent; in CI, absence is a failure."""
    if available:
        return
    reason = f"{name} is not configured (set {'DATABASE_URL' if name == 'PostgreSQL' else 'REDIS_URL'})"
    if IN_CI:
        pytest.fail(f"{reason}; CI must run this test")
    pytest.skip(reason)


def _migrate(uri: str, outbox: Path) -> None:
    from flask_migrate import upgrade

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=uri, OUTBOX_DIR=str(outbox))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """A migrated database for the run: a SQLite file to copy, or a PostgreSQL URL.

    With DATABASE_URL pointing at PostgreSQL, each test run creates its own database next to it
    (and drops it at the end), so runs on one server never disturb each other.
    """
    outbox = tmp_path_factory.mktemp("migrate-outbox")
    if DATABASE_URL.startswith(("postgres", "postgresql")):
        from sqlalchemy.engine import make_url

        server_url = make_url(normalise_database_url(DATABASE_URL))
        name = f"homeroom_test_{os.getpid()}_{int(time.time())}"
        admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = server_url.set(database=name).render_as_string(hide_password=False)
        _migrate(url, outbox)
        yield {"kind": "postgresql", "url": url}
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        return
    path = tmp_path_factory.mktemp("db-template") / "template.sqlite3"
    _migrate(f"sqlite:///{path}", outbox)
    yield {"kind": "sqlite", "path": path}


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename != 'alembic_version'")
            )
        ]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(database_template, tmp_path):
    if database_template["kind"] == "postgresql":
        _truncate_all(database_template["url"])
        return database_template["url"]
    path = tmp_path / "test.sqlite3"
    shutil.copyfile(database_template["path"], path)
    return f"sqlite:///{path}"


@pytest.fixture
def app_config(database_url, tmp_path) -> dict:
    """Overrides for create_app(TestConfig); tests may change them before `app` is built."""
    return {"SQLALCHEMY_DATABASE_URI": database_url, "OUTBOX_DIR": str(tmp_path / "outbox")}


class MemoryBytecodeCache(BytecodeCache):
    """Share compiled templates between the many apps a test run creates (one per test)."""

    def __init__(self):
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket):
        self.store[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = MemoryBytecodeCache()


@event.listens_for(Engine, "connect")
def _fast_sqlite(dbapi_connection, _record):
    # Test databases are throwaway: skip fsync on every commit.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.execute("PRAGMA synchronous=OFF")


class IsolatedClient(FlaskClient):
    """A test client whose requests get their own app context, as in production.

    The test itself holds an app context (for factories and assertions). Flask reuses a pushed
    app context for requests, which would share `g` (the CSRF token cache, Flask-Login's user)
    and the database session between requests. Hiding the test's context for the duration of
    each request gives every request a fresh one.
    """

    def open(self, *args, **kwargs):
        token = _cv_app.set(None)
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)


@pytest.fixture
def app(app_config):
    app = create_app(TestConfig, **app_config)
    app.test_client_class = IsolatedClient
    app.jinja_env.bytecode_cache = TEMPLATE_CACHE
    with app.app_context():
        yield app
        db.session.remove()
        if db.engine.dialect.name == "postgresql" and db.engine.pool.checkedout():
            # Connections held only by reference cycles (a request's objects) go back to the
            # pool now, while it is alive, instead of being closed by psycopg's finaliser later,
            # in another test, as a ResourceWarning. Only when one is still out: a full collection
            # after every test costs O(heap) and made the PostgreSQL leg several times slower.
            gc.collect()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _client_sockets_closed(monkeypatch):
    """Every `requests.Session` a test opens (its own, or a helper's such as
    tests/integration/faults/helpers.py `sign_in`) is closed when the test ends, and so is every
    Engine.IO client still connected. Left open, a socket to a server the test has stopped is
    closed by the garbage collector in some later test, whose ResourceWarning then fails that
    innocent test."""
    import requests
    from engineio import base_client

    opened: list = []
    original = requests.Session.__init__

    def opening(self, *args, **kwargs):
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(requests.Session, "__init__", opening)
    yield
    for client in list(base_client.connected_clients):
        client.disconnect(abort=True)
    for http in opened:
        http.close()


@pytest.fixture
def make_app():
    """Build another app (a different config) whose database connections are closed at teardown.

    An app left to the garbage collector closes its PostgreSQL connections in some later test,
    where psycopg's ResourceWarning fails that innocent test.
    """
    made = []

    def make(config_class=TestConfig, **overrides):
        extra = create_app(config_class, **overrides)
        made.append(extra)
        return extra

    yield make
    for extra in made:
        with extra.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


# --- factories --------------------------------------------------------------------------------

_counter = itertools.count(1)


@pytest.fixture
def make_district(app):
    from app.districts.models import District

    def make(**kw):
        n = next(_counter)
        district = District(
            name=kw.pop("name", f"District {n}"),
            school_year_end=kw.pop("school_year_end", date.today() + timedelta(days=200)),
            **kw,
        )
        db.session.add(district)
        db.session.commit()
        return district

    return make


@pytest.fixture
def make_school(app):
    from app.districts.models import School

    def make(district, **kw):
        school = School(
            district_id=district.id,
            name=kw.pop("name", f"School {next(_counter)}"),
            timezone=kw.pop("timezone", "America/Los_Angeles"),
            **kw,
        )
        db.session.add(school)
        db.session.commit()
        return school

    return make


@pytest.fixture
def make_user(app):
    from app.auth.models import User

    def make(role, district, *, school=None, schools=(), **kw):
        n = next(_counter)
        user = User(
            email=kw.pop("email", f"{role}{n}@example.org"),
            name=kw.pop("name", f"{role.replace('_', ' ').title()} {n}"),
            password_hash=kw.pop("password_hash", PASSWORD_HASH),
            role=role,
            district_id=district.id,
            school_id=school.id if school is not None else None,
            **kw,
        )
        if schools:
            user.schools = list(schools)
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def make_student(app):
    from app.districts.models import Student

    def make(school, **kw):
        n = next(_counter)
        student = Student(
            district_id=school.district_id,
            school_id=school.id,
            first_name=kw.pop("first_name", f"Kid{n}"),
            last_name=kw.pop("last_name", f"Family{n}"),
            grade=kw.pop("grade", "4"),
            date_of_birth=kw.pop("date_of_birth", date(2016, 5, 1)),
            preferred_language=kw.pop("preferred_language", "en"),
            source_id=kw.pop("source_id", f"src-{n}"),
            **kw,
        )
        db.session.add(student)
        db.session.commit()
        return student

    return make


@pytest.fixture
def link_guardian(app):
    from app.districts.models import GuardianLink

    def link(guardian, student, *, legal_authority=True, restricted=False, relationship="parent"):
        row = GuardianLink(
            district_id=student.district_id,
            guardian_id=guardian.id,
            student_id=student.id,
            relationship_label=relationship,
            legal_authority=legal_authority,
            restricted=restricted,
        )
        db.session.add(row)
        db.session.commit()
        return row

    return link


@pytest.fixture
def assign(app):
    from app.districts.models import CaseloadAssignment

    def assign(therapist, student, *, starts_on=None, ends_on=None):
        row = CaseloadAssignment(
            district_id=student.district_id,
            therapist_id=therapist.id,
            student_id=student.id,
            starts_on=starts_on or date.today() - timedelta(days=30),
            ends_on=ends_on,
        )
        db.session.add(row)
        db.session.commit()
        return row

    return assign


class World:
    """A standard cast: district A (two schools) with every role, and a foreign district B.

    own_student: on therapist's caseload, child of guardian, at school_a.
    other_student: same school, nobody's in this cast (not on caseload, not guardian's child).
    foreign_student: in district B.
    """


@pytest.fixture
def world(make_district, make_school, make_user, make_student, link_guardian, assign):
    w = World()
    w.district = make_district(name="Alpha District")
    w.school_a = make_school(w.district, name="Alpha Elementary")
    w.school_b = make_school(w.district, name="Alpha Middle")
    w.district_admin = make_user("district_admin", w.district, email="da@alpha.example")
    w.school_admin = make_user("school_admin", w.district, school=w.school_a, email="sa@alpha.example")
    w.therapist = make_user("therapist", w.district, schools=[w.school_a], email="t@alpha.example")
    w.other_therapist = make_user("therapist", w.district, schools=[w.school_b], email="t2@alpha.example")
    w.guardian = make_user("guardian", w.district, email="g@family.example")
    w.own_student = make_student(w.school_a, first_name="Own", last_name="Student")
    w.other_student = make_student(w.school_a, first_name="Other", last_name="Student")
    w.school_b_student = make_student(w.school_b, first_name="Middle", last_name="Student")
    link_guardian(w.guardian, w.own_student)
    assign(w.therapist, w.own_student)
    assign(w.other_therapist, w.school_b_student)

    w.foreign_district = make_district(name="Beta District")
    w.foreign_school = make_school(w.foreign_district, name="Beta Elementary")
    w.foreign_admin = make_user("district_admin", w.foreign_district, email="da@beta.example")
    w.foreign_therapist = make_user("therapist", w.foreign_district, schools=[w.foreign_school],
                                    email="t@beta.example")
    w.foreign_student = make_student(w.foreign_school, first_name="Foreign", last_name="Student")
    assign(w.foreign_therapist, w.foreign_student)
    return w


# --- HTTP helpers ------------------------------------------------------------------------------

_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_from(html: str) -> str:
    match = _CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


def get_csrf(client, path: str = "/login") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def login(client, user_or_email, password: str = PASSWORD, *, follow: bool = False):
    email = getattr(user_or_email, "email", user_or_email)
    token = get_csrf(client, "/login")
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=follow
    )


def post(client, path: str, data: dict | None = None, *, token_from: str = "/home", **kw):
    """POST a form the way a browser does, with the CSRF token from a page of the site."""
    payload = dict(data or {})
    payload.setdefault("csrf_token", get_csrf(client, token_from))
    return client.post(path, data=payload, **kw)


@pytest.fixture
def login_as(client):
    def do(user):
        response = login(client, user)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return do


# --- consent ------------------------------------------------------------------------------------

CONSENT_FORM = {
    "title_en": "Consent for counseling", "body_en": "We ask your consent for counseling by video.",
    "title_es": "Consentimiento para consejería", "body_es": "Pedimos su consentimiento para consejería por video.",
}


@pytest.fixture
def consent_form(app):
    """Publish the district's consent form (all scopes) as its admin."""
    from app.consent.models import SCOPES
    from app.consent.services import publish_template

    def publish(admin, scopes=SCOPES, **text):
        return publish_template(admin, scopes=list(scopes), **{**CONSENT_FORM, **text})

    return publish


@pytest.fixture
def grant_consent(app, consent_form):
    """Make consent active for a student: a request by `by`, signed by each legal guardian.

    Returns the ConsentRequest. `allow` limits the scopes each guardian allows.
    """
    from app.consent.models import SCOPES
    from app.consent.services import decide, latest_template, legal_guardians, request_consent

    def grant(student, by, *, scopes=SCOPES, allow=None, now=None, expires_on=None, policy=None):
        if latest_template(student.district_id) is None:
            admin = by if by.role == "district_admin" else None
            if admin is None:
                from sqlalchemy import select

                from app.auth.models import User

                admin = db.session.scalar(select(User).where(User.district_id == student.district_id,
                                                             User.role == "district_admin"))
            consent_form(admin)
        created = request_consent(by, student, scopes=list(scopes), now=now, expires_on=expires_on, policy=policy)
        allowed = set(scopes if allow is None else allow)
        for guardian in legal_guardians(student):
            decide(created.request, guardian, decision="signed", choices={s: s in allowed for s in scopes},
                   typed_name=guardian.name, confirmed_legal_guardian=True, language="en", now=now)
        return created.request

    return grant
