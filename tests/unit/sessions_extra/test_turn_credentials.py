"""coturn's TURN REST credential scheme, checked against a vector computed outside Python:

    printf '%s' "1767225600:preflight-abc" | openssl dgst -sha1 -hmac "north-wind-secret" -binary | base64
"""

from datetime import UTC, datetime, timedelta

from app.sessions.preflight import parse_turn_url, preflight_checks
from app.sessions.turn import ice_servers, turn_credentials

EXPIRY = datetime(2026, 1, 1, tzinfo=UTC)  # 1767225600


def test_credentials_match_an_independently_computed_vector():
    creds = turn_credentials("north-wind-secret", "preflight-abc", EXPIRY)
    assert creds == {"username": "1767225600:preflight-abc", "credential": "n1I5klrqUss8xWKuOd9JiG8lBSQ="}


def test_ice_servers_carry_credentials_only_for_turn_urls():
    config = {"STUN_URLS": ["stun:turn.example:3478"], "TURN_URLS": ["turn:turn.example:3478?transport=udp"],
              "TURN_SECRET": "s"}
    stun, turn = ice_servers(config, "x", EXPIRY)
    assert stun == {"urls": ["stun:turn.example:3478"]}
    assert turn["urls"] == ["turn:turn.example:3478?transport=udp"] and turn["username"].startswith("1767225600:")


def test_turn_urls_are_parsed_for_people_and_the_browser_checks():
    udp = parse_turn_url("turn:turn.example.org:3478?transport=udp")
    assert (udp.host, udp.port, udp.transport, udp.label) == ("turn.example.org", 3478, "udp", "UDP, port 3478")
    tls = parse_turn_url("turns:turn.example.org:443?transport=tcp")
    assert (tls.port, tls.transport) == (443, "tls")
    assert parse_turn_url("turn:turn.example.org?transport=tcp").port == 3478
    assert parse_turn_url("turns:[2001:db8::1]").port == 5349
    assert parse_turn_url("stun:turn.example.org:3478") is None
    assert parse_turn_url("turn:host:notaport") is None


def test_preflight_credentials_are_short_lived_and_one_per_url():
    now = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    config = {"TURN_URLS": ["turn:t.example:3478?transport=udp", "turns:t.example:443?transport=tcp"],
              "TURN_SECRET": "s", "PREFLIGHT_TURN_LIFETIME": timedelta(minutes=10)}
    plan = preflight_checks(config, now)
    assert plan["lifetime_seconds"] == 600
    assert [c["transport"] for c in plan["checks"]] == ["udp", "tls"]
    for check in plan["checks"]:
        (server,) = check["iceServers"]
        assert server["urls"] == [check["url"]]
        expiry, who = server["username"].split(":", 1)
        assert int(expiry) == int((now + timedelta(minutes=10)).timestamp())
        assert who.startswith("preflight-")  # names no person


def test_preflight_gives_nothing_without_a_secret():
    config = {"TURN_URLS": ["turn:t.example:3478"], "TURN_SECRET": "", "PREFLIGHT_TURN_LIFETIME": timedelta(minutes=10)}
    assert preflight_checks(config, EXPIRY)["checks"] == []
