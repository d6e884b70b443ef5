"""Browser tests: Debian's Chromium, driven by Playwright, against the real server (wsgi.py).

Scopes, and why:
  * `browser` is session-scoped: one Chromium for the whole run (launching costs ~1 s).
  * `live_server` is module-scoped, on a module-scoped database. Seeding the demo district runs
    `flask seed-demo` in a subprocess, which hashes ~25 passwords with the real Argon2 parameters
    (~5 s on a 2-core machine), and the eventlet server takes ~2 s to start. Per test that would be
    ~7 s x every test; per module it is paid once. Tests in a module therefore share one seeded
    district and must not depend on each other's changes: a test that changes data (the password
    reset) uses an account no other test in its module touches. The function-scoped
    `database_url` fixture cannot feed a module-scoped server, so `e2e_database_url` below builds
    the same thing for a module: a copy of the migrated SQLite template, or the PostgreSQL test
    database truncated (pytest tears module fixtures down before the next module starts, so no
    other test truncates it while the server runs). On SQLite the seeded file is also made once
    per run and copied per module, so the seed is paid once; PostgreSQL seeds once per module.
  * `context` and `page` are per test: fresh cookies, storage and permissions every time.
    `sign_in_as` (for tests about signed-in pages, not about signing in) signs each person in
    through the form once per module and puts that session's cookies into later tests' contexts.

Every page fails its test if it logs a console error, throws, or violates the Content Security
Policy (a wrong or missing nonce shows up here, not in the Flask test client).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import IN_CI, _truncate_all
from tests.e2e.helpers import DEMO_PASSWORD, BrowserErrors, sign_in
from tests.support.servers import ROOT, running_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
E2E_DIR = Path(__file__).resolve().parent
DEFAULT_TIMEOUT_MS = 10_000
_reports_key = pytest.StashKey[dict]()


def pytest_collection_modifyitems(config, items):
    # This hook sees every collected item of the run, not only this directory's.
    for item in items:
        if Path(str(item.path)).resolve().is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Lets the `page` fixture know whether the test failed, to print where the browser was.
    report = yield
    item.stash.setdefault(_reports_key, {})[report.when] = report
    return report


def _need_chromium() -> None:
    """Skip with a reason when Chromium is absent; in CI, absence is a failure."""
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return
    reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium, or `make browser`)"
    if IN_CI:
        pytest.fail(f"{reason}; CI must run the browser tests")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    _need_chromium()
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        # Never a downloaded browser build: always Debian's Chromium.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="module")
def e2e_database_url(database_template, tmp_path_factory):
    """`database_url` for a whole module: freshly migrated, empty (see the module docstring)."""
    if database_template["kind"] == "postgresql":
        _truncate_all(database_template["url"])
        return database_template["url"]
    path = tmp_path_factory.mktemp("e2e-db") / "test.sqlite3"
    shutil.copyfile(database_template["path"], path)
    return f"sqlite:///{path}"


def seed_demo(database_url: str, instance_dir: Path) -> None:
    """`flask seed-demo` in a subprocess, as a person runs it (with the real Argon2 parameters)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ASYNC_MODE": "threading",
        "HOMEROOM_CONFIG": "development",
        "HOMEROOM_INSTANCE_DIR": str(instance_dir),
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app:create_app", "seed-demo"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, f"seed-demo failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="session")
def _seeded_sqlite_template(database_template, tmp_path_factory) -> Path:
    """SQLite only: the migrated template with the demo district, seeded once per run."""
    path = tmp_path_factory.mktemp("e2e-seeded") / "seeded.sqlite3"
    shutil.copyfile(database_template["path"], path)
    seed_demo(f"sqlite:///{path}", path.parent / "instance")
    return path


@pytest.fixture(scope="module")
def demo_database_url(e2e_database_url, database_template, request, tmp_path_factory) -> str:
    """A module's database holding the demo district.

    SQLite: a copy of a file seeded once per run (copying is instant). PostgreSQL: the truncated
    test database, seeded again for this module (a database cannot be copied as cheaply).
    """
    if database_template["kind"] == "sqlite":
        seeded = request.getfixturevalue("_seeded_sqlite_template")
        shutil.copyfile(seeded, e2e_database_url.removeprefix("sqlite:///"))
    else:
        seed_demo(e2e_database_url, tmp_path_factory.mktemp("seed-instance"))
    return e2e_database_url


@pytest.fixture(scope="module")
def live_server(demo_database_url, tmp_path_factory):
    """The real server (wsgi.py, eventlet) on a freshly migrated database holding the demo district."""
    with running_server("eventlet", demo_database_url, tmp_path_factory.mktemp("live-server")) as server:
        yield server


@pytest.fixture
def base_url(live_server) -> str:
    return live_server.base_url


@pytest.fixture
def browser_errors() -> BrowserErrors:
    """Console errors, uncaught exceptions and CSP violations of every page of the test's context."""
    return BrowserErrors()


@pytest.fixture
def context(browser, live_server, browser_errors):
    context = browser.new_context(base_url=live_server.base_url, locale="en-US", timezone_id="UTC")
    # The fake camera and microphone flags only help if the page may use them; grant them for
    # the server's origin alone, as a person would when the browser asks.
    context.grant_permissions(["camera", "microphone"], origin=live_server.base_url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    browser_errors.watch(context)  # before any page opens
    yield context
    context.close()


@pytest.fixture
def page(context, live_server, browser_errors, request):
    page = context.new_page()
    page.browser_errors = browser_errors  # so helpers can expect an error, e.g. a 404 page's own load
    yield page
    # A round trip to the browser delivers any console events still on their way.
    for open_page in context.pages:
        try:
            open_page.evaluate("0")
        except PlaywrightError:
            pass  # closed or mid-navigation: nothing more to deliver
    reports = request.node.stash.get(_reports_key, {})
    if reports.get("call") is not None and reports["call"].failed:
        print(f"Browser was at {page.url}\n--- server log (tail) ---\n{live_server.log()}")
    unexpected = browser_errors.unexpected()
    assert not unexpected, "The browser reported errors:\n" + "\n".join(unexpected)


@pytest.fixture(scope="module")
def _session_cookies() -> dict:
    return {}


@pytest.fixture
def sign_in_as(page, context, base_url, _session_cookies):
    """Sign in once per module and person through the form, then reuse that session's cookies.

    For tests about what a signed-in page looks like, not about signing in: each sign-in costs a
    real Argon2 verification (~0.5 s) in the server. The cookies go into this test's own fresh
    context. Do not sign out in a test that uses this: it would end the shared session.
    """

    def do(email: str, password: str = DEMO_PASSWORD) -> None:
        cookies = _session_cookies.get(email)
        if cookies is None:
            sign_in(page, base_url, email, password)
            _session_cookies[email] = context.cookies(base_url)
            return
        context.add_cookies(cookies)
        page.goto(base_url + "/home")
        assert page.url == base_url + "/home", f"the shared session of {email} has ended (at {page.url})"

    return do
