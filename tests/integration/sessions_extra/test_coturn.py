"""The test coturn itself: ephemeral REST credentials are accepted until they expire, and the
server relays for 127.0.0.1 only. Spoken to with a small RFC 5766 client, no browser."""

from __future__ import annotations

from datetime import timedelta

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
