"""The public "check my device and network" page and its short-lived TURN credentials."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.db_types import utcnow
from tests.conftest import get_csrf

TURN = {"TURN_URLS": ["turn:turn.district.example:3478?transport=udp",
                      "turns:turn.district.example:443?transport=tcp"],
        "TURN_SECRET": "preflight-test-secret"}


@pytest.fixture
def app_config(app_config):
    return {**app_config, **TURN, "PREFLIGHT_TURN_RATE_LIMIT": "3 per hour"}


def _ask(client, token=None):
    headers = {"X-CSRFToken": token or get_csrf(client, "/login")}
    return client.post("/preflight/ice-servers", headers=headers)


def test_anyone_can_open_the_preflight_page_with_advice_for_school_it(client):
    response = client.get("/preflight/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Check my device and network" in page
    assert "<code>turn.district.example</code>" in page
    assert "TCP port 443" in page and "UDP port 3478" in page
    assert "UDP, port 3478" in page and "TLS (secure TCP), port 443" in page
    assert "preflight-test-secret" not in page  # credentials only come from the POST


def test_anyone_gets_one_short_lived_credential_per_turn_url(client):
    response = _ask(client)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    plan = response.get_json()
    assert plan["lifetime_seconds"] == 600
    assert [c["transport"] for c in plan["checks"]] == ["udp", "tls"]
    usernames = set()
    for check in plan["checks"]:
        (server,) = check["iceServers"]
        assert server["urls"] == [check["url"]]
        expiry = int(server["username"].split(":", 1)[0])
        assert 0 < expiry - utcnow().timestamp() <= timedelta(minutes=10).total_seconds()
        usernames.add(server["username"])
    assert len(usernames) == 1  # one anonymous identity per request


def test_credentials_are_not_given_without_the_csrf_token(client):
    assert client.post("/preflight/ice-servers").status_code == 400


def test_credentials_are_not_given_on_get(client):
    assert client.get("/preflight/ice-servers").status_code == 405


def test_credentials_are_rate_limited_per_ip(client):
    token = get_csrf(client, "/login")
    assert [_ask(client, token).status_code for _ in range(4)] == [200, 200, 200, 429]
    other = client.application.test_client()
    response = other.post("/preflight/ice-servers", headers={"X-CSRFToken": get_csrf(other, "/login")},
                          environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert response.status_code == 200


def test_page_says_so_when_no_relay_is_configured(app, client):
    app.config.update(TURN_URLS=[], TURN_SECRET="")
    page = client.get("/preflight/").get_data(as_text=True)
    assert "no relay server set up" in page and 'id="net-start"' not in page
    assert _ask(client).get_json()["checks"] == []
