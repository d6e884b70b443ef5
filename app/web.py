"""Request plumbing shared by every blueprint: client IP, security headers, error pages."""

from __future__ import annotations

import secrets

from flask import Flask, abort, g, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.routing import IntegerConverter

#: Every id is a database INTEGER (PostgreSQL's is 32-bit signed).
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` in URLs, bounded to what an id can be: a larger number matches no route (a 404)
    instead of reaching the database (SQLite cannot even bind it: a 500)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def client_ip() -> str | None:
    # ProxyFix (configured by PROXY_FIX_X_FOR) has already resolved X-Forwarded-For.
    return request.remote_addr


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def _content_security_policy(nonce: str, extra_connect: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob: mediastream:",
            f"connect-src 'self'{extra_connect}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def register_security_headers(app: Flask) -> None:
    # Socket.IO uses ws(s):// on the same host; older Chromium builds do not match that to 'self'.
    scheme = "wss" if app.config.get("SESSION_COOKIE_SECURE") else "ws"
    host = app.config["PUBLIC_BASE_URL"].split("://", 1)[-1].rstrip("/")
    extra_connect = f" {scheme}://{host}"

    @app.after_request
    def set_security_headers(response):
        headers = response.headers
        headers["Content-Security-Policy"] = _content_security_policy(csp_nonce(), extra_connect)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(self), microphone=(self), geolocation=(), payment=()"
        if app.config.get("HSTS_ENABLED"):
            headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        # Minors' health data must not linger in shared school computers' caches.
        if request.endpoint not in ("static", "core.vendor_asset"):
            headers["Cache-Control"] = "no-store"
            headers["Pragma"] = "no-cache"
        return response

    app.jinja_env.globals["csp_nonce"] = csp_nonce


def _has_nul(values) -> bool:
    return any("\x00" in key or any("\x00" in value for value in vals) for key, vals in values.lists())


def register_input_guards(app: Flask) -> None:
    """A NUL character is never meaningful in text a person typed, and PostgreSQL cannot store or
    even compare it (psycopg raises DataError: a 500). Refuse such a request as a bad request
    before any view or service sees it."""

    @app.before_request
    def refuse_nul_characters():
        if _has_nul(request.args):
            abort(400)
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and (
                _has_nul(request.form) or any("\x00" in (f.filename or "") for f in request.files.values())):
            abort(400)


def register_errorhandlers(app: Flask) -> None:
    register_input_guards(app)

    def render_error(status: int, title: str, message: str):
        return render_template("errors/error.html", status=status, title=title, message=message), status

    @app.errorhandler(400)
    def bad_request(_error):
        return render_error(400, "Something in that request was not right",
                            "Please go back, check what you entered and try again.")

    @app.errorhandler(CSRFError)
    def csrf_error(_error):
        return render_error(400, "This form has expired",
                            "For your safety, forms stop working after you sign out or after a while. "
                            "Go back, reload the page and try again.")

    @app.errorhandler(403)
    def forbidden(_error):
        return render_error(403, "You do not have access to this page",
                            "If you think you should, ask your district administrator.")

    @app.errorhandler(404)
    def not_found(_error):
        return render_error(404, "We could not find that page",
                            "It may have moved, or you may not have access to it.")

    @app.errorhandler(405)
    def method_not_allowed(_error):
        return render_error(405, "That action is not available here",
                            "Use the buttons on the page instead of typing the address.")

    @app.errorhandler(429)
    def too_many(_error):
        return render_error(429, "Too many attempts",
                            "For everyone's safety we have paused this for a while. "
                            "Please wait 15 minutes and try again.")

    @app.errorhandler(500)
    def server_error(_error):
        from app.extensions import db

        db.session.rollback()
        return render_error(500, "Something went wrong on our side",
                            "Nothing you entered was saved. Please try again in a minute.")

    @app.context_processor
    def inject_user_flags():
        return {"signed_in": getattr(current_user, "is_authenticated", False)}


def external_url(endpoint: str, **values) -> str:
    """An absolute URL on PUBLIC_BASE_URL, for emails and feeds.

    Never built from the request's Host header: a forged Host would otherwise put an
    attacker's domain into password-reset and consent links. Works outside requests (cron jobs).
    """
    from urllib.parse import urlsplit

    from flask import current_app

    parts = urlsplit(current_app.config["PUBLIC_BASE_URL"].rstrip("/"))
    adapter = current_app.url_map.bind(parts.netloc, url_scheme=parts.scheme or "https", script_name=parts.path or "/")
    return adapter.build(endpoint, values, force_external=True)
