"""Relay-only WebRTC through a real coturn on 127.0.0.1 with ephemeral credentials.

The server under test gets TURN_URLS (UDP and TCP on one coturn port), TURN_SECRET and
ICE_TRANSPORT_POLICY=relay. On the preflight page, Chromium gathers relay candidates from each
TURN URL on its own, then connects two peers through the relay; getStats must show a selected
candidate pair that is relay on both ends.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import IN_CI
from tests.e2e.helpers import assert_accessible
from tests.support.coturn import running_coturn, turnserver_available
from tests.support.servers import running_server

RELAY_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def coturn(tmp_path_factory):
    if not turnserver_available():
        if IN_CI:
            pytest.fail("turnserver is not installed; CI must run the relay test (make coturn)")
        pytest.skip("turnserver is not installed (make coturn)")
    with running_coturn(tmp_path_factory.mktemp("coturn")) as server:
        yield server


@pytest.fixture(scope="module")
def live_server(coturn, demo_database_url, tmp_path_factory):
    """This module's own server, pointed at the test coturn and forcing relay-only ICE."""
    env = coturn.env(ICE_TRANSPORT_POLICY="relay", PREFLIGHT_TURN_RATE_LIMIT="100 per hour")
    with running_server("eventlet", demo_database_url, tmp_path_factory.mktemp("relay-server"),
                        extra_env=env) as server:
        yield server


def test_anyone_can_check_camera_and_microphone(page, base_url):
    page.goto(base_url + "/preflight/")
    expect(page.get_by_role("heading", name="Check my device and network")).to_be_visible()
    page.get_by_role("button", name="Check my camera").click()
    expect(page.locator("#camera-result")).to_have_attribute("data-state", "ok")
    assert page.locator("#camera-preview").evaluate("v => v.videoWidth") > 0
    page.get_by_role("button", name="Check my microphone").click()
    expect(page.locator("#mic-result")).to_have_attribute("data-state", "ok")
    assert_accessible(page)


def test_preflight_reaches_the_relay_over_udp_and_tcp_and_connects_through_it(page, base_url, coturn):
    page.goto(base_url + "/preflight/")
    page.get_by_role("button", name="Check my network").click()
    udp = page.locator(f'[data-check="udp"][data-url="{coturn.udp_url}"]')
    tcp = page.locator(f'[data-check="tcp"][data-url="{coturn.tcp_url}"]')
    relay = page.locator("#relay-result")
    expect(relay).to_have_attribute("data-state", "ok", timeout=RELAY_TIMEOUT_MS)
    expect(udp).to_have_attribute("data-state", "ok")
    expect(tcp).to_have_attribute("data-state", "ok")
    # The selected candidate pair (getStats) is relay on both sides: the data went through coturn.
    expect(relay).to_have_attribute("data-local-type", "relay")
    expect(relay).to_have_attribute("data-remote-type", "relay")
    expect(page.locator("#net-summary")).to_have_attribute("data-state", "ok")
    expect(page.locator("#net-summary")).to_contain_text("All good")
    # The IT section names the relay's host and ports.
    expect(page.get_by_role("region", name="For school IT")).to_contain_text(f"UDP port {coturn.port}")
    assert_accessible(page)


def test_preflight_says_plainly_when_the_relay_cannot_be_reached(page, base_url, coturn):
    # Make every TURN allocation fail by pointing the page's check at a closed port.
    page.route("**/preflight/ice-servers", lambda route: route.fulfill(
        status=200, content_type="application/json",
        body='{"lifetime_seconds": 600, "checks": ['
             f'{{"url": "{coturn.udp_url}", "transport": "udp", "label": "UDP", "iceServers": '
             '[{"urls": ["turn:127.0.0.1:9?transport=udp"], "username": "1:x", "credential": "x"}]}]}'))
    page.goto(base_url + "/preflight/")
    page.get_by_role("button", name="Check my network").click()
    summary = page.locator("#net-summary")
    expect(summary).to_have_attribute("data-state", "fail", timeout=RELAY_TIMEOUT_MS)
    expect(summary).to_contain_text("school’s IT team")
    expect(page.locator(f'[data-url="{coturn.udp_url}"]')).to_have_attribute("data-state", "fail")
