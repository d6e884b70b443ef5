"""Helpers for the browser tests: the demo logins, signing in and out, browser errors, axe-core."""

from __future__ import annotations

import json
import re
from functools import cache

from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from tests.support.servers import ROOT

# The demo district (app/districts/cli.py); `flask seed-demo` gives every account this password.
DEMO_PASSWORD = "homeroom-demo-2026"
DISTRICT_ADMIN = "admin@riverbend.example"
SCHOOL_ADMIN = "principal@riverbend.example"
THERAPIST = "priya.raman@riverbend.example"
THERAPIST_CEDAR_HILL = "jordan.ellis@riverbend.example"
GUARDIAN = "james.nguyen@family.example"
GUARDIAN_SPANISH = "maria.garcia@family.example"

AXE_PATH = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING_IMPACTS = ("serious", "critical")
ADVISORY_TAG = "best-practice"  # reported, never failing


# --- signing in and out ------------------------------------------------------------------------


def sign_in(page: Page, base_url: str, email: str, password: str = DEMO_PASSWORD) -> None:
    """Fill the real sign-in form, submit it, and insist on landing on /home."""
    page.goto(base_url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(base_url + "/home")


def sign_out(page: Page, base_url: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(base_url + "/login")


# --- errors the browser reports ----------------------------------------------------------------

# Known application issues the harness tolerates, each with the reason and how to remove it.
# (url regex, message regex)
# Console errors the app is known to cause and has not fixed yet: (url pattern, message pattern).
KNOWN_APP_ISSUES: list[tuple[re.Pattern, re.Pattern]] = []

_CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  window.__homeroomCspViolation(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} `
    + `in ${e.sourceFile || e.documentURI}:${e.lineNumber}`);
});
"""


class BrowserErrors:
    """Console errors, uncaught exceptions and CSP violations of a test's pages.

    CSP violations arrive twice on purpose: Chromium logs them as console errors, and the
    `securitypolicyviolation` DOM event (reported through a Playwright binding, which CSP does
    not govern) still catches them if the console wording ever changes.
    """

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []  # (url, text)
        self._expected: list[tuple[re.Pattern, re.Pattern]] = list(KNOWN_APP_ISSUES)

    def watch(self, context: BrowserContext) -> None:
        def report(source, text):
            self.messages.append((source["frame"].url, f"CSP violation: {text}"))

        context.expose_binding("__homeroomCspViolation", report)
        context.add_init_script(_CSP_LISTENER)
        context.on("page", self.watch_page)  # every page, including pop-ups and new tabs

    def watch_page(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.messages.append((page.url, f"Uncaught exception: {error}")))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append((message.location.get("url", ""), f"console.error: {message.text}"))

    def expect(self, url_pattern: str, text_pattern: str) -> None:
        """Tolerate a message the test causes on purpose (e.g. a 404 page logs its own load)."""
        self._expected.append((re.compile(url_pattern), re.compile(text_pattern)))

    def unexpected(self) -> list[str]:
        return [
            f"{text} (at {url or 'unknown'})"
            for url, text in self.messages
            if not any(u.search(url) and t.search(text.removeprefix("console.error: ")) for u, t in self._expected)
        ]


def expect_http_error_page(page: Page, url: str, status: int) -> None:
    """Chromium logs an error page's own load as 'Failed to load resource'; for this URL, that is expected."""
    page.browser_errors.expect(
        rf"^{re.escape(url)}$", rf"^Failed to load resource: the server responded with a status of {status}\b"
    )


# --- accessibility ------------------------------------------------------------------------------


@cache
def _axe_source() -> str:
    assert AXE_PATH.is_file(), f"{AXE_PATH} is missing: run `npm ci` (axe-core is in package.json)"
    return AXE_PATH.read_text()


def assert_accessible(page: Page) -> list[dict]:
    """Run axe-core (WCAG 2.0/2.1/2.2 A and AA rules) on the page; fail on serious or critical issues.

    How axe gets into the page: `page.add_script_tag(content=...)` inserts an inline <script>,
    which the app's CSP (`script-src 'self' 'nonce-…'`) refuses, so Chromium blocks it and logs a
    violation. `browser.new_context(bypass_csp=True)` would work but switches the CSP off for the
    whole context, and the accessibility tests could then no longer catch CSP mistakes.
    `page.evaluate` runs through the DevTools protocol (Runtime.evaluate), which CSP does not
    govern, and axe needs no eval of its own, so the page keeps its real CSP.

    axe's best-practice rules (landmarks, heading order, …) run too, as advice: their findings,
    and the WCAG findings below serious, are printed (`pytest -s`) and returned, never a failure.
    """
    if page.evaluate("typeof window.axe") == "undefined":
        page.evaluate(_axe_source())
    assert page.evaluate("typeof window.axe?.run") == "function", "axe-core did not load into the page"
    results = page.evaluate(
        """(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
             .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                                                 tags: v.tags,
                                                 targets: v.nodes.slice(0, 3).map(n => n.target),
                                                 count: v.nodes.length})))""",
        [*AXE_TAGS, ADVISORY_TAG],
    )
    in_scope = [v for v in results if set(v["tags"]) & set(AXE_TAGS)]
    blocking = [v for v in in_scope if v["impact"] in BLOCKING_IMPACTS]
    others = [v for v in results if v not in blocking]
    if others:  # shown with the test's output; not a failure
        print(f"axe (minor/moderate, or best practice) on {page.url}:\n" + _describe(others))
    assert not blocking, f"axe found serious or critical accessibility violations on {page.url}:\n" + _describe(
        blocking
    )
    return others


def _describe(violations: list[dict]) -> str:
    return "\n".join(
        f"  - {v['id']} [{v['impact']}{'' if set(v['tags']) & set(AXE_TAGS) else ', best practice'}] {v['help']}"
        f" ({v['count']} node(s); first: {json.dumps(v['targets'])})\n    {v['helpUrl']}"
        for v in violations
    )


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)

