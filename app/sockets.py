"""The guarded Socket.IO namespace every Homeroom namespace derives from.

`before_request` and `login_required` do not run for socket events (Flask-SocketIO docs), so the
checks live here, for every connect and every event:

* connect: the Origin must be on SOCKETIO_ALLOWED_ORIGINS (a missing or `null` Origin is refused),
  and the subclass's `authorize_connect(actor, auth)` must accept the actor;
* each event: known name, per-socket rate limit, payload validated against the event's JSON
  Schema (types and sizes), then the subclass re-authorizes through app/permissions.py;
* a socket that keeps sending once refused (rate-limited or unknown events, more than
  FLOOD_STRIKES in quick succession) is flooding: it gets a `flooding` error and is disconnected,
  so the rest of its backlog is dropped unread instead of delaying every other room's events;
* a refused or malformed event gets an `error` event with a reason code and changes nothing;
  an exception in a handler is logged (never the payload) and answered with `server_error`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from flask import Flask, current_app, request
from flask.ctx import RequestContext
from flask.sessions import SessionMixin
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, Namespace, emit
from jsonschema import Draft202012Validator

from app.extensions import db

log = logging.getLogger("homeroom.sockets")

#: Flask-SocketIO pushes a request context built from the socket's handshake environ for every
#: event; that environ's path is Socket.IO's (HTTP requests to it never reach Flask's views).
SOCKETIO_PATH = "/socket.io"

class _HandshakeSession(SessionMixin):
    """The Flask session of a Socket.IO event (the signed cookie of the socket's handshake),
    decoded when first read or written, not when the event's context is pushed."""

    modified = False

    def __init__(self, open_session: Callable[[], SessionMixin]) -> None:
        self._open = open_session
        self._opened: SessionMixin | None = None

    def _session(self) -> SessionMixin:
        if self._opened is None:
            self._opened = self._open()
        return self._opened

    @property
    def permanent(self) -> bool:
        return self._session().permanent

    def __getitem__(self, key):
        return self._session()[key]

    def __setitem__(self, key, value) -> None:
        self._session()[key] = value
        self.modified = True

    def __delitem__(self, key) -> None:
        del self._session()[key]
        self.modified = True

    def __iter__(self):
        return iter(self._session())

    def __len__(self) -> int:
        return len(self._session())


def _open_session(app: Flask, request) -> SessionMixin:
    interface = app.session_interface
    return interface.open_session(app, request) or interface.make_null_session(app)


class SocketEventContext(RequestContext):
    """The request context Flask-SocketIO pushes for each Socket.IO event, made cheaper:

    * no URL matching: an event is never dispatched to a view, and matching the Socket.IO path
      raised a NotFound whose traceback tied the context into a reference cycle, so every event
      left ~70 objects for the cyclic garbage collector (whose full collections then paused every
      socket for tens of milliseconds; docs/BENCHMARKS.md section 1). `url_for` still works.
    * the Flask session (the signed cookie of the handshake) is decoded when first used, as
      before, but not on every push: a move never reads it (its authorization is `standing()`'s);
      connects and full checks do. Nothing is cached: each event that reads it decodes it anew.
    """

    def __init__(self, app: Flask, environ: dict, request=None, session: SessionMixin | None = None) -> None:
        super().__init__(app, environ, request, session)
        if session is None:
            # Bound to the app and the request, not to this context (that would be a cycle again).
            self._session = _HandshakeSession(partial(_open_session, app, self.request))

    def match_request(self) -> None:
        """Flask's documented hook: nothing to match (see the class docstring)."""


class HomeroomFlask(Flask):
    def request_context(self, environ: dict) -> RequestContext:
        if environ.get("PATH_INFO", "").startswith(SOCKETIO_PATH):
            return SocketEventContext(self, environ)
        return super().request_context(environ)


@dataclass
class EventSpec:
    schema: dict
    rate: float = 10.0  # tokens per second
    burst: int = 20

    def __post_init__(self):
        Draft202012Validator.check_schema(self.schema)
        self.validator = Draft202012Validator(self.schema)


class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, burst: int):
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self, rate: float, burst: int) -> bool:
        now = time.monotonic()
        self.tokens = min(burst, self.tokens + (now - self.stamp) * rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


#: Refusals a socket may collect (rate-limited or unknown events; one more allowed per second)
#: before it is disconnected as a flood. A client that only bursts now and then never gets near.
FLOOD_STRIKES = 50


class SocketRefused(Exception):
    """Raised by a handler to refuse an event with a reason code people can act on."""

    def __init__(self, code: str, message: str):
        super().__init__(code)
        self.code = code
        self.message = message


def origin_allowed(origin: str | None) -> bool:
    if not origin or origin == "null":
        return False
    return origin in current_app.config["SOCKETIO_ALLOWED_ORIGINS"]


class GuardedNamespace(Namespace):
    #: event name -> EventSpec; events not listed are refused as unknown.
    EVENTS: dict[str, EventSpec] = {}

    def __init__(self, namespace: str):
        super().__init__(namespace)
        # Per socket: {event: its rate-limit bucket}, made on the socket's first event of each name,
        # and its flood strikes; both dropped with the socket (one dict lookup, not a scan of all).
        self._buckets: dict[str, dict[str, _Bucket]] = {}
        self._strikes: dict[str, _Bucket] = {}

    # -- to implement ----------------------------------------------------------------------

    def resolve_actor(self) -> Any:
        """The actor behind this socket: a signed-in user, by default."""
        return current_user._get_current_object() if getattr(current_user, "is_authenticated", False) else None

    def authorize_connect(self, actor, auth) -> None:
        """Raise SocketRefused unless `actor` may connect. Called inside on_connect."""
        raise SocketRefused("forbidden", "Not allowed.")

    def connected(self, actor, auth) -> None:
        """Called after a connect is accepted (join rooms here)."""

    def disconnected(self, reason) -> None:
        """Called when a socket goes away."""

    # -- machinery -------------------------------------------------------------------------

    def on_connect(self, auth=None):
        if not origin_allowed(request.headers.get("Origin")):
            log.info("socket refused: origin", extra={"namespace": self.namespace})
            message = "This page is not allowed to connect."
            raise ConnectionRefusedError(message, {"code": "bad_origin", "message": message})
        actor = self.resolve_actor()
        try:
            self.authorize_connect(actor, auth if isinstance(auth, dict) else {})
            self.connected(actor, auth if isinstance(auth, dict) else {})
        except SocketRefused as refused:
            db.session.rollback()
            # Two arguments: the client's connect_error then has err.message and err.data = {code, message}
            # (a single dict argument would arrive as its str()).
            raise ConnectionRefusedError(refused.message, {"code": refused.code, "message": refused.message}) from None

    def on_disconnect(self, reason=None):
        self._buckets.pop(request.sid, None)
        self._strikes.pop(request.sid, None)
        try:
            self.disconnected(reason)
        except Exception:  # noqa: BLE001 - a failing cleanup must not take the server down
            log.exception("socket disconnect cleanup failed")
            db.session.rollback()

    def trigger_event(self, event, *args):
        if event in ("connect", "disconnect"):
            # The server's own connect/disconnect run while the socket is pending (not yet, or no
            # longer, connected). A connected client that *sends* an event named "connect" or
            # "disconnect" must not re-run them (a second RoomSocket row, or a socket forgotten
            # while it stays open): it is refused like any unknown event.
            if not self.server.manager.is_connected(args[0] if args else None, self.namespace):
                return super().trigger_event(event, *args)
            message = "This action is not available."
            self.emit("error", {"code": "unknown_event", "message": message, "event": event}, room=args[0])
            return {"ok": False, "code": "unknown_event", "message": message}
        # Events run in their socket's reader (async_handlers=False, see create_app): yield to the
        # other sockets first, so a client streaming messages cannot keep the process to itself.
        self.socketio.sleep(0)
        # args is (sid, *payload); _handle_event wants the sid, then calls _guarded(event, *payload).
        sid, *payload = args
        return self.socketio._handle_event(self._guarded, event, self.namespace, sid, event, *payload)

    def _refuse(self, code: str, message: str, event: str | None = None):
        emit("error", {"code": code, "message": message, "event": event})
        return {"ok": False, "code": code, "message": message}

    def _bucket(self, event: str, burst: int) -> _Bucket:
        """This socket's rate-limit bucket for `event` (full when first used)."""
        buckets = self._buckets.get(request.sid)
        if buckets is None:
            buckets = self._buckets[request.sid] = {}
        bucket = buckets.get(event)
        if bucket is None:
            bucket = buckets[event] = _Bucket(burst)
        return bucket

    def _flooding(self, event: str) -> dict | None:
        """Count a cheap refusal against this socket; past FLOOD_STRIKES, disconnect it."""
        strikes = self._strikes.get(request.sid)
        if strikes is None:
            strikes = self._strikes[request.sid] = _Bucket(FLOOD_STRIKES)
        if strikes.take(1.0, FLOOD_STRIKES):
            return None
        log.warning("socket disconnected: flooding", extra={"namespace": self.namespace})
        refusal = self._refuse("flooding", "Too many messages at once: please reload the page.", event)
        # Close the whole connection, not only this namespace: the messages it still has queued are
        # then dropped with it instead of being read (and refused) one by one.
        server = self.socketio.server
        eio_sid = server.manager.eio_sid_from_sid(request.sid, self.namespace)
        if eio_sid is not None:
            server.eio.disconnect(eio_sid)
        else:  # pragma: no cover - the socket went away meanwhile
            self.disconnect(request.sid)
        return refusal

    def _guarded(self, event: str, *args):
        spec = self.EVENTS.get(event) if isinstance(event, str) else None
        handler: Callable | None = getattr(self, f"on_{event}", None) if spec else None
        if spec is None or handler is None:
            return (self._flooding(str(event)[:40])
                    or self._refuse("unknown_event", "This action is not available.", str(event)[:40]))
        # One bucket per socket and event: a burst of ICE candidates must not use up the chat's.
        bucket = self._bucket(event, spec.burst)
        if not bucket.take(spec.rate, spec.burst):
            return self._flooding(event) or self._refuse("rate_limited", "Slow down a little and try again.", event)
        payload = args[0] if args else None
        errors = sorted(spec.validator.iter_errors(payload), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].path) or "message"
            return self._refuse("invalid", f"The {where} in this message is not valid.", event)
        try:
            result = handler(payload)
        except SocketRefused as refused:
            db.session.rollback()
            return self._refuse(refused.code, refused.message, event)
        except Exception:  # noqa: BLE001 - never crash on a message; log without the payload
            db.session.rollback()
            log.exception("socket handler failed", extra={"event": event, "namespace": self.namespace})
            return self._refuse("server_error", "Something went wrong. Please try again.", event)
        return result if result is not None else {"ok": True}
