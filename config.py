"""Homeroom configuration.

Every setting can be overridden from the environment (see the table in README.md).
Production-only requirements (SECRET_KEY, DATABASE_URL, DATA_ENCRYPTION_KEYS) are
checked when ProductionConfig is *chosen*, not when this module is imported.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("HOMEROOM_INSTANCE_DIR", BASE_DIR / "instance"))

ASYNC_MODES = ("eventlet", "gevent", "threading")


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def normalise_database_url(url: str) -> str:
    """Point plain postgres URLs at psycopg 3, the driver we ship and test."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'homeroom.sqlite3'}")
    )
    # hide_parameters: a database error's message must not carry bound values (game state, mood faces) into logs.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True, "hide_parameters": True}
    REDIS_URL = os.environ.get("REDIS_URL", "")
    REDIS_MAX_CONNECTIONS = int(os.environ.get("REDIS_MAX_CONNECTIONS", "50"))  # per server process
    REDIS_POOL_TIMEOUT = float(os.environ.get("REDIS_POOL_TIMEOUT", "10"))  # seconds a publish waits
    ASYNC_MODE = os.environ.get("ASYNC_MODE", "eventlet")

    # Sessions: server-side records (auth.UserSession); the cookie only names one.
    SESSION_COOKIE_NAME = "homeroom"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_DURATION = timedelta(seconds=0)
    SESSION_IDLE_TIMEOUT = timedelta(minutes=int(os.environ.get("SESSION_IDLE_MINUTES", "30")))
    SESSION_ABSOLUTE_LIFETIME = timedelta(hours=int(os.environ.get("SESSION_ABSOLUTE_HOURS", "12")))
    PERMANENT_SESSION_LIFETIME = SESSION_ABSOLUTE_LIFETIME

    MFA_REQUIRED = _env_bool("MFA_REQUIRED", False)
    PASSWORD_RESET_MAX_AGE = timedelta(minutes=30)
    STAFF_INVITE_MAX_AGE = timedelta(days=7)
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "5 per 15 minutes")
    LOGIN_LIMIT_PER_IP = os.environ.get("LOGIN_LIMIT_PER_IP", "20 per 15 minutes")
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = False

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the (server-checked) session
    HSTS_ENABLED = False

    # Fernet keys (comma separated, newest first) for data encrypted at rest:
    # TOTP secrets now, session notes later. Rotating = prepend a new key.
    DATA_ENCRYPTION_KEYS = _env_list(
        "DATA_ENCRYPTION_KEYS", ["ZGV2LW9ubHktbm90LXNlY3JldC1rZXktMzItYnl0ZXM="]
    )

    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "smtp")  # smtp | outbox
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Homeroom <no-reply@homeroom.example>")
    OUTBOX_DIR = os.environ.get("OUTBOX_DIR", str(INSTANCE_DIR / "outbox"))
    DEV_OUTBOX_PAGE = False

    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    SOCKETIO_ALLOWED_ORIGINS = _env_list(
        "SOCKETIO_ALLOWED_ORIGINS", ["http://127.0.0.1:5000", "http://localhost:5000"]
    )

    # ICE transport policy for calls: "all" (default) or "relay" (every call through TURN: the relay
    # test, and schools whose networks block peer-to-peer UDP). The /call namespace hands it to the page.
    ICE_TRANSPORT_POLICY = os.environ.get("ICE_TRANSPORT_POLICY", "all")
    # The public preflight page hands anonymous visitors TURN credentials: short-lived and rate-limited.
    PREFLIGHT_TURN_LIFETIME = timedelta(minutes=int(os.environ.get("PREFLIGHT_TURN_MINUTES", "10")))
    PREFLIGHT_TURN_RATE_LIMIT = os.environ.get("PREFLIGHT_TURN_RATE_LIMIT", "20 per hour")

    CONSENT_REMINDER_AFTER_DAYS = int(os.environ.get("CONSENT_REMINDER_AFTER_DAYS", "3"))
    CONSENT_EXPIRY_WARNING_DAYS = int(os.environ.get("CONSENT_EXPIRY_WARNING_DAYS", "30"))

    SCHEDULE_REMINDER_HOURS = int(os.environ.get("SCHEDULE_REMINDER_HOURS", "24"))
    SCHEDULE_AGENDA_HOUR = int(os.environ.get("SCHEDULE_AGENDA_HOUR", "6"))
    SCHEDULE_ICAL_RATE_LIMIT = os.environ.get("SCHEDULE_ICAL_RATE_LIMIT", "120 per hour")

    # Live sessions: ICE servers for WebRTC (comma separated URLs) and coturn's REST secret
    # (`static-auth-secret`). Empty = no STUN/TURN. A call's TURN credentials last CALL_TURN_SECONDS
    # (never past the room's close); the call page fetches fresh ones before they expire.
    STUN_URLS = _env_list("STUN_URLS", [])
    TURN_URLS = _env_list("TURN_URLS", [])
    TURN_SECRET = os.environ.get("TURN_SECRET", "")
    CALL_TURN_LIFETIME = timedelta(seconds=int(os.environ.get("CALL_TURN_SECONDS", "600")))
    # Join by code: failed attempts per IP (schools share an IP: keep it generous) and joins per room.
    JOIN_LIMIT_PER_IP = os.environ.get("JOIN_LIMIT_PER_IP", "30 per 10 minutes")
    JOIN_LIMIT_PER_ROOM = os.environ.get("JOIN_LIMIT_PER_ROOM", "10 per 10 minutes")

    BABEL_DEFAULT_LOCALE = "en"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "app" / "translations")
    LANGUAGES = ("en", "es")
    NODE_MODULES_DIR = os.environ.get("NODE_MODULES_DIR", str(BASE_DIR / "node_modules"))

    TESTING = False
    DEBUG = False

    @classmethod
    def validate(cls) -> None:
        if cls.ASYNC_MODE not in ASYNC_MODES:
            raise RuntimeError(f"ASYNC_MODE must be one of {ASYNC_MODES}, not {cls.ASYNC_MODE!r}")


class DevelopmentConfig(Config):
    DEBUG = False  # the Werkzeug debugger would allow code execution; use logs
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "outbox")
    DEV_OUTBOX_PAGE = True


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key"  # noqa: S105 - the test profile only
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        os.environ.get("TEST_DATABASE_URL", "sqlite:///:memory:")
    )
    ASYNC_MODE = "threading"
    MAIL_BACKEND = "outbox"
    DEV_OUTBOX_PAGE = True
    MFA_REQUIRED = False
    RATELIMIT_STORAGE_URI = "memory://"
    REDIS_URL = ""
    PUBLIC_BASE_URL = "http://localhost"
    SOCKETIO_ALLOWED_ORIGINS = ["http://localhost"]
    STUN_URLS: list[str] = []
    TURN_URLS: list[str] = []
    TURN_SECRET = ""


class ProductionConfig(Config):
    SESSION_COOKIE_NAME = "__Host-homeroom"
    SESSION_COOKIE_SECURE = True
    # Homeroom never sets a "remember me" cookie (login_user without remember); should one ever be
    # set, it gets the same protection as the session cookie, not Flask-Login's defaults.
    REMEMBER_COOKIE_NAME = "__Host-homeroom_remember"
    REMEMBER_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_PATH = "/"
    HSTS_ENABLED = True
    MFA_REQUIRED = _env_bool("MFA_REQUIRED", True)
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "smtp")
    DEV_OUTBOX_PAGE = False

    @classmethod
    def validate(cls) -> None:
        super().validate()
        missing = [name for name in ("SECRET_KEY", "DATABASE_URL", "DATA_ENCRYPTION_KEYS") if not os.environ.get(name)]
        if missing:
            raise RuntimeError(
                "ProductionConfig refuses to start without: " + ", ".join(missing)
            )
        if len(os.environ["SECRET_KEY"]) < 32:
            raise RuntimeError("SECRET_KEY must be at least 32 characters in production")
        cls.SECRET_KEY = os.environ["SECRET_KEY"]
        cls.SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ["DATABASE_URL"])
        cls.DATA_ENCRYPTION_KEYS = _env_list("DATA_ENCRYPTION_KEYS", [])


CONFIGS = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    name = os.environ.get("HOMEROOM_CONFIG", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"HOMEROOM_CONFIG must be one of {sorted(CONFIGS)}") from None
