"""The "check my device and network" page: public, for students, guardians and school IT.

The page tests the camera and microphone in the browser, then asks for short-lived TURN
credentials and tries to get a relay candidate from each configured TURN URL separately
(so it can say "UDP works, TLS on 443 is blocked"), and finally connects two peers in the
page to each other through the relay.

Anonymous TURN credentials are a deliberate, bounded exception to "credentials only for
authorised participants": they live PREFLIGHT_TURN_LIFETIME (10 minutes by default), are
rate-limited per IP (PREFLIGHT_TURN_RATE_LIMIT) and name no person. See docs/SECURITY.md.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs

from flask import Blueprint, current_app, jsonify, render_template

from app.db_types import utcnow
from app.extensions import limiter
from app.permissions import public
from app.sessions.turn import turn_credentials

bp = Blueprint("preflight", __name__, url_prefix="/preflight")


@dataclass(frozen=True)
class TurnEndpoint:
    """One configured TURN URL, described for people and for the browser test."""

    url: str
    host: str
    port: int
    transport: str  # "udp" | "tcp" | "tls"

    @property
    def label(self) -> str:
        return {
            "udp": f"UDP, port {self.port}",
            "tcp": f"TCP, port {self.port}",
            "tls": f"TLS (secure TCP), port {self.port}",
        }[self.transport]


def parse_turn_url(url: str) -> TurnEndpoint | None:
    """`turn:host:3478?transport=udp` or `turns:host:443?transport=tcp` (RFC 7065); None if not TURN."""
    scheme, sep, rest = url.partition(":")
    if not sep or scheme not in ("turn", "turns"):
        return None
    hostport, _, query = rest.partition("?")
    transport = (parse_qs(query).get("transport") or ["udp" if scheme == "turn" else "tcp"])[0].lower()
    if hostport.startswith("["):  # an IPv6 literal
        host, _, port_text = hostport[1:].partition("]")
        port_text = port_text.removeprefix(":")
    else:
        host, _, port_text = hostport.partition(":")
    try:
        port = int(port_text) if port_text else (5349 if scheme == "turns" else 3478)
    except ValueError:
        return None
    if not host or not 0 < port < 65536 or transport not in ("udp", "tcp"):
        return None
    return TurnEndpoint(url=url, host=host, port=port, transport="tls" if scheme == "turns" else transport)


def turn_endpoints(config) -> list[TurnEndpoint]:
    return [e for e in (parse_turn_url(u) for u in config.get("TURN_URLS", []) if u) if e is not None]


def preflight_checks(config, now) -> dict:
    """What the browser needs to test each TURN URL on its own, with one anonymous credential."""
    endpoints = turn_endpoints(config)
    lifetime = config["PREFLIGHT_TURN_LIFETIME"]
    checks = []
    if endpoints and config.get("TURN_SECRET"):
        creds = turn_credentials(config["TURN_SECRET"], f"preflight-{secrets.token_hex(8)}", now + lifetime)
        checks = [{"url": e.url, "transport": e.transport, "label": e.label,
                   "iceServers": [{"urls": [e.url], **creds}]} for e in endpoints]
    return {"lifetime_seconds": int(lifetime.total_seconds()), "checks": checks}


@bp.route("/")
@public
def index():
    endpoints = turn_endpoints(current_app.config)
    hosts = sorted({e.host for e in endpoints})
    ports = sorted({(e.port, "UDP" if e.transport == "udp" else "TCP") for e in endpoints})
    return render_template("sessions/preflight.html", endpoints=endpoints, hosts=hosts, ports=ports,
                           turn_ready=bool(endpoints and current_app.config.get("TURN_SECRET")))


@bp.route("/ice-servers", methods=["POST"])
@public
@limiter.limit(lambda: current_app.config["PREFLIGHT_TURN_RATE_LIMIT"], scope="preflight-turn")
def ice_servers():
    """POST (with the page's CSRF token) so that no link, prefetch or cache hands out credentials."""
    return jsonify(preflight_checks(current_app.config, utcnow()))
