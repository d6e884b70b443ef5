"""Call set-up time in headless Chromium (issue 8, benchmark 3).

20 calls, one after the other, each in its own live room (made through the app's services on a
freshly migrated SQLite file, or BENCH_PG): the therapist's page (signed in once, through the form)
opens the room; a student, in a fresh browser context as a new device would be, joins by code,
says "ready" and waits in the waiting room with the camera preview running; the therapist clicks
**Admit**. Timed from that click (the join action) until each page's RTCPeerConnection reaches
`connected` (the state tests/e2e/test_call.py waits for through `window.homeroomCall.connectionState`).
The instant of `connected` is taken in the page itself: an init script records `Date.now()` at the
first `connectionstatechange` to `connected` of any RTCPeerConnection the page makes, so polling
adds nothing; the bench then checks `window.homeroomCall.connectionState === 'connected'` too.
The therapist ends each session before the next (not timed).

Debian's Chromium (/usr/bin/chromium) with the fake camera and microphone flags of
tests/e2e/conftest.py; iceServers empty (no STUN_URLS/TURN_URLS: host candidates on 127.0.0.1);
the server is wsgi.py with ASYNC_MODE=eventlet, bound to 127.0.0.1.

    python -m bench call
    BENCH_CALLS=5 python -m bench call
    BENCH_PG=postgresql://postgres@127.0.0.1:5432 python -m bench call
"""

from __future__ import annotations

import os
import re
import time

from bench.common import cleanup, migrated_sqlite, percentile, postgres_database, workdir
from bench.relay import BENCH_LIMITS, PASSWORD, THERAPIST_EMAIL, make_rooms

CALLS = int(os.environ.get("BENCH_CALLS", "20"))
TIMEOUT_MS = 30_000

# Records when this page's call first reaches `connected` (the page's own clock, epoch ms).
CONNECTED_HOOK = """
(() => {
  const Original = window.RTCPeerConnection;
  if (!Original) return;
  window.RTCPeerConnection = class extends Original {
    constructor(...args) {
      super(...args);
      this.addEventListener('connectionstatechange', () => {
        if (this.connectionState === 'connected' && !window.__benchConnectedAt) window.__benchConnectedAt = Date.now();
      });
    }
  };
})();
"""


def _wait_js(page, expression: str, timeout: float = TIMEOUT_MS / 1000):
    """Poll a JS function (page.evaluate, which the app's CSP allows) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout}s for {expression} on {page.url}")
        page.wait_for_timeout(50)


def one_call(browser, base: str, therapist, room: dict) -> dict:
    from playwright.sync_api import expect

    therapist.goto(f"{base}/sessions/rooms/{room['id']}")
    _wait_js(therapist, "() => window.homeroomCall && window.homeroomCall.socketConnected")
    context = browser.new_context(base_url=base, locale="en-US", timezone_id="UTC")
    context.grant_permissions(["camera", "microphone"], origin=base)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(CONNECTED_HOOK)
    try:
        student = context.new_page()
        student.goto(base + "/join")
        student.get_by_label("Your code").fill(room["code"])
        student.get_by_role("button", name="Join", exact=True).click()
        student.get_by_role("button", name="Yes, I'm ready").click()
        _wait_js(student, "() => window.homeroomWaiting && window.homeroomWaiting.socketConnected"
                          " && window.homeroomWaiting.previewing")
        admit = therapist.get_by_role("button", name="Admit")
        expect(admit).to_be_visible()
        clicked_at = time.time() * 1000
        admit.click()
        expect(student).to_have_url(re.compile(r"/sessions/rooms/\d+$"))
        at = {}
        for who, page in (("therapist", therapist), ("student", student)):
            at[who] = _wait_js(page, "() => window.__benchConnectedAt && window.homeroomCall"
                                     " && window.homeroomCall.connectionState === 'connected'"
                                     " && window.__benchConnectedAt")
        # Where the student's time went: the room page's navigation start and DOMContentLoaded.
        page_ready = student.evaluate("() => performance.timeOrigin"
                                      " + performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
        therapist.get_by_role("button", name="End session").click()
        expect(therapist.locator("#ended")).to_be_visible()
        return {**{who: value - clicked_at for who, value in at.items()}, "student_page": page_ready - clicked_at}
    finally:
        context.close()


def main() -> int:
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.support.servers import start_server

    if not os.access(CHROMIUM, os.X_OK):
        print(f"call: Chromium is not installed at {CHROMIUM} (make browser)")
        return 1
    work = workdir("call")
    server = None
    drop = None
    pg = os.environ.get("BENCH_PG")
    results: list[dict] = []
    failures: list[str] = []
    try:
        print(f"call: setting up {CALLS} live rooms on {'PostgreSQL' if pg else 'SQLite'} ...", flush=True)
        url, drop = postgres_database(pg, work) if pg else (migrated_sqlite(work), None)
        rooms = make_rooms(url, work / "outbox", CALLS)
        server = start_server("eventlet", url, work / "server", extra_env=dict(BENCH_LIMITS))
        base = server.base_url
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            therapist_context = browser.new_context(base_url=base, locale="en-US", timezone_id="UTC")
            therapist_context.grant_permissions(["camera", "microphone"], origin=base)
            therapist_context.set_default_timeout(TIMEOUT_MS)
            therapist_context.add_init_script(CONNECTED_HOOK)
            therapist = therapist_context.new_page()
            therapist.goto(base + "/login")
            therapist.get_by_label("Email").fill(THERAPIST_EMAIL)
            therapist.get_by_label("Password").fill(PASSWORD)
            therapist.get_by_role("button", name="Sign in", exact=True).click()
            therapist.wait_for_url(base + "/home")
            print(f"{'call':>4} {'student ms':>10} {'therapist ms':>12} {'student room page ready ms':>26}", flush=True)
            for i, room in enumerate(rooms, 1):
                try:
                    r = one_call(browser, base, therapist, room)
                except Exception as exc:  # noqa: BLE001 - a failed call is counted and reported, the run goes on
                    failures.append(f"call {i}: {type(exc).__name__}: {str(exc)[:200]}")
                    print(f"{i:>4} failed: {failures[-1]}", flush=True)
                    continue
                results.append(r)
                print(f"{i:>4} {r['student']:>10.0f} {r['therapist']:>12.0f} {r['student_page']:>26.0f}", flush=True)
            browser.close()
        print(f"\ncalls: {len(results)} connected, {len(failures)} failed; time from the therapist's Admit "
              "click to RTCPeerConnection 'connected' (ms):")
        print(f"{'page':<43} {'p50':>7} {'p95':>7} {'max':>7}")
        labels = {"student": "student", "therapist": "therapist", "both": "both (later of two)",
                  "student_page": "student room page ready (DOMContentLoaded)"}
        for who, label in labels.items():
            values = [max(r["student"], r["therapist"]) if who == "both" else r[who] for r in results]
            print(f"{label:<43} {percentile(values, 50):>7.0f} "
                  f"{percentile(values, 95):>7.0f} {max(values, default=float('nan')):>7.0f}")
        return 1 if failures else 0
    except Exception:
        if server is not None:
            print(f"--- {server.log_path} (tail) ---\n{server.log()[-1500:]}")
        raise
    finally:
        if server is not None:
            server.stop()
        if drop is not None:
            drop()
        cleanup(work)


if __name__ == "__main__":
    raise SystemExit(main())
