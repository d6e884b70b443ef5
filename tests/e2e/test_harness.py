"""The harness itself: its checks must be able to fail, or a passing browser suite proves nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.helpers import assert_accessible
from tests.support.servers import running_server


@pytest.fixture(scope="module")
def live_server(e2e_database_url, tmp_path_factory):
    """These tests need no demo district, so they skip the ~5 s seed: a migrated database is enough."""
    with running_server("eventlet", e2e_database_url, tmp_path_factory.mktemp("live-server")) as server:
        yield server


def test_harness_fails_a_page_with_a_serious_accessibility_violation(page, base_url):
    page.goto(base_url + "/login")
    assert_accessible(page)
    # A button with no accessible name is a critical axe violation (button-name).
    page.evaluate("document.querySelector('main').append(document.createElement('button'))")
    with pytest.raises(AssertionError, match=r"button-name \[critical\]"):
        assert_accessible(page)


def test_harness_catches_an_inline_script_the_csp_blocks(page, base_url):
    page.goto(base_url + "/login")
    # What a template would do with a <script> missing its nonce.
    with pytest.raises(PlaywrightError, match="Content Security Policy"):
        page.add_script_tag(content="window.ranInline = true")
    assert page.evaluate("window.ranInline") is None
    page.wait_for_function("true")  # let the binding report arrive
    caught = page.browser_errors.unexpected()
    assert any("Content Security Policy" in m for m in caught), caught
    assert any(m.startswith("CSP violation: script-src-elem blocked inline") for m in caught), caught
    page.browser_errors.messages.clear()  # seen and expected; the page fixture must not fail on them


def test_harness_catches_an_uncaught_exception(page, base_url):
    page.goto(base_url + "/login")
    page.evaluate("setTimeout(() => { throw new Error('boom from the page') }, 0)")
    page.wait_for_timeout(100)
    caught = page.browser_errors.unexpected()
    assert any("boom from the page" in m for m in caught), caught
    page.browser_errors.messages.clear()


def test_pages_get_the_fake_camera_and_microphone_without_a_prompt(page, base_url):
    page.goto(base_url + "/login")
    kinds = page.evaluate(
        """() => navigator.mediaDevices.getUserMedia({video: true, audio: true})
                 .then(stream => { const kinds = stream.getTracks().map(t => t.kind).sort();
                                   stream.getTracks().forEach(t => t.stop()); return kinds; })"""
    )
    assert kinds == ["audio", "video"]
