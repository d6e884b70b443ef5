"""The test coturn itself: ephemeral REST credentials are accepted until they expire, and the
server relays for 127.0.0.1 only. Spoken to with a small RFC 5766 client, no browser."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from app.db_types import utcnow
from app.sessions.turn import turn_credentials
from tests.conftest import IN_CI
from tests.support.coturn import LOOPBACK, running_coturn, turnserver_available
from tests.support.turn_client import XOR_RELAYED_ADDRESS, TurnClient


@pytest.fixture(scope="module")
def coturn(tmp_path_factory):
    if not turnserver_available():
        if IN_CI:
            pytest.fail("turnserver is not installed; CI must run the TURN tests (make coturn)")
        pytest.skip("turnserver is not installed (make coturn)")
    with running_coturn(tmp_path_factory.mktemp("coturn")) as server:
        yield server


def _client(coturn, expires_in: timedelta, secret: str | None = None) -> TurnClient:
    creds = turn_credentials(secret or coturn.secret, "test-peer", utcnow() + expires_in)
    return TurnClient(LOOPBACK, coturn.port, creds["username"], creds["credential"])


def test_fresh_credentials_get_a_relay_on_loopback(coturn):
    client = _client(coturn, timedelta(minutes=10))
    try:
        response = client.allocate()
        assert response.cls == "success", (response.error_code, coturn.log())
        assert response.xor_address(XOR_RELAYED_ADDRESS)[0] == LOOPBACK
    finally:
        client.close()


def test_expired_credentials_are_refused(coturn):
    client = _client(coturn, timedelta(seconds=-5))
    try:
        response = client.allocate()
        assert response.cls == "error" and response.error_code == 401
    finally:
        client.close()


def test_credentials_signed_with_another_secret_are_refused(coturn):
    client = _client(coturn, timedelta(minutes=10), secret="not-the-secret")
    try:
        response = client.allocate()
        assert response.cls == "error" and response.error_code == 401
    finally:
        client.close()


@pytest.mark.parametrize("peer", ["192.0.2.2", "10.0.0.1", "169.254.1.1", "127.0.0.2", "8.8.8.8"])
def test_the_test_server_relays_to_no_address_but_127_0_0_1(coturn, peer):
    client = _client(coturn, timedelta(minutes=10))
    try:
        assert client.allocate().cls == "success"
        assert client.create_permission(LOOPBACK).cls == "success"
        refused = client.create_permission(peer)
        assert refused.cls == "error" and refused.error_code == 403, refused.error_code
    finally:
        client.close()


# --- the production peer policy in docs/DEPLOYMENT.md ------------------------------------------

DEPLOYMENT = Path(__file__).resolve().parents[3] / "docs" / "DEPLOYMENT.md"


def documented_peer_rules() -> list[str]:
    text = DEPLOYMENT.read_text()
    block = text.split("### /etc/turnserver.conf", 1)[1].split("```ini\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.startswith(("denied-peer-ip=", "allowed-peer-ip="))]


@pytest.fixture(scope="module")
def production_policy_coturn(tmp_path_factory):
    if not turnserver_available():
        if IN_CI:
            pytest.fail("turnserver is not installed; CI must run the TURN tests (make coturn)")
        pytest.skip("turnserver is not installed (make coturn)")
    rules = documented_peer_rules()
    assert len(rules) > 10, "the coturn section of docs/DEPLOYMENT.md lost its denied-peer-ip lines"
    with running_coturn(tmp_path_factory.mktemp("coturn-prod"), peer_rules=rules) as server:
        yield server


PUBLIC_PEERS = ["8.8.8.8", "1.1.1.1", "93.184.216.34"]
PRIVATE_PEERS = ["10.1.2.3", "172.16.0.1", "172.31.255.254", "192.168.1.1", "127.0.0.1", "127.8.8.8",
                 "169.254.169.254", "100.64.0.1", "100.127.255.254", "0.0.0.0", "224.0.0.251", "255.255.255.255"]  # noqa: S104 - peers, not binds


def test_documented_policy_relays_to_public_addresses_only(production_policy_coturn):
    client = _client(production_policy_coturn, timedelta(minutes=10))
    try:
        assert client.allocate().cls == "success"
        allowed = {peer: client.create_permission(peer).cls for peer in PUBLIC_PEERS + PRIVATE_PEERS}
    finally:
        client.close()
    assert allowed == {**dict.fromkeys(PUBLIC_PEERS, "success"), **dict.fromkeys(PRIVATE_PEERS, "error")}
