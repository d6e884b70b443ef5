"""Ephemeral TURN credentials in coturn's REST scheme (`use-auth-secret` / `static-auth-secret`).

username = "<unix expiry>:<opaque id>", credential = base64(HMAC-SHA1(secret, username)).
coturn accepts the pair until the expiry; nothing is stored on either side.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime


def turn_credentials(secret: str, who: str, expires_at: datetime) -> dict:
    username = f"{int(expires_at.timestamp())}:{who}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return {"username": username, "credential": base64.b64encode(digest).decode()}


def ice_servers(config: dict, who: str, expires_at: datetime) -> list[dict]:
    """The ICE server list for an authorised participant: STUN/TURN URLs from configuration,
    with TURN credentials that stop working when the session does."""
    servers: list[dict] = []
    stun = [u for u in config.get("STUN_URLS", []) if u]
    if stun:
        servers.append({"urls": stun})
    turn = [u for u in config.get("TURN_URLS", []) if u]
    if turn and config.get("TURN_SECRET"):
        servers.append({"urls": turn, **turn_credentials(config["TURN_SECRET"], who, expires_at)})
    return servers
