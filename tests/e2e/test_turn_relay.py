"""Relay-only WebRTC through a real coturn on 127.0.0.1 with ephemeral credentials.

The server under test gets TURN_URLS (UDP and TCP on one coturn port), TURN_SECRET and
ICE_TRANSPORT_POLICY=relay.

* Preflight: Chromium gathers relay candidates from each TURN URL on its own, then connects two
  peers through the relay; getStats must show a selected candidate pair that is relay on both ends.
* The call: therapist and student meet on the real room pages; the TURN credentials are the
  ephemeral ones the /call namespace hands to the two participants, and both pages' selected
  candidate pairs must be relay/relay, and the page's RTCPeerConnection must have been built with
  iceTransportPolicy "relay" (the /call namespace hands the setting to the page).
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.conftest import IN_CI
from tests.e2e import test_call as call_e2e
from tests.e2e.helpers import THERAPIST, assert_accessible
from tests.e2e.test_call import _admit_and_connect, _new_context, _open_room, _session_now, _student_joins_by_code, _wait_for
from tests.support.coturn import running_coturn, turnserver_available
from tests.support.servers import running_server

RELAY_TIMEOUT_MS = 30_000
demo_app = call_e2e.demo_app  # the call tests' fixture (adds a session starting now), on this module's server
STUDENT_FOR_CALL = "demo-s-005"  # Mia Kim: Priya Raman's caseload, video consent in the demo


SELECTED_PAIR = """async () => {
  const pc = window.homeroomCall && window.homeroomCall.pc;
  if (!pc) return null;
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId);
  return {local: local.candidateType, remote: remote.candidateType, localAddress: local.address,
          relayProtocol: local.relayProtocol || null, config: pc.getConfiguration()};
}"""


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


def test_therapist_and_student_connect_through_the_relay_with_ephemeral_credentials(
        browser, page, context, base_url, live_server, sign_in_as, browser_errors, demo_app, coturn):
    appointment_id, _ = _session_now(demo_app, STUDENT_FOR_CALL)
    sign_in_as(THERAPIST)
    code = _open_room(page, base_url, appointment_id)
    student_context = _new_context(browser, live_server, browser_errors)
    student = student_context.new_page()
    try:
        _student_joins_by_code(student, base_url, code)
        _admit_and_connect(page, student)  # both 'connected', inbound video bytes > 0
        for who in (page, student):
            pair = _wait_for(who, SELECTED_PAIR, 20)
            assert (pair["local"], pair["remote"]) == ("relay", "relay"), pair
            assert pair["localAddress"] == "127.0.0.1", pair
            assert pair["config"]["iceTransportPolicy"] == "relay"
            (server,) = [s for s in pair["config"]["iceServers"] if any(u.startswith("turn:") for u in s["urls"])]
            assert sorted(server["urls"]) == sorted(coturn.urls)
            expiry, _who = server["username"].split(":", 1)
            assert int(expiry) > time.time()  # ephemeral: an expiry, no account
    finally:
        student_context.close()
    assert "CREATE_PERMISSION processed, success" in coturn.log()  # coturn relayed between the two
