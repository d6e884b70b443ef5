"""The Homeroom application factory."""

from __future__ import annotations

from flask import Flask, request, session
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config, config_from_env


def create_app(config_class: type[Config] | None = None, **overrides) -> Flask:
    config_class = config_class or config_from_env()
    config_class.validate()
    from app.sockets import HomeroomFlask

    app = HomeroomFlask(
        __name__,
        instance_path=str(__import__("config").INSTANCE_DIR),
        template_folder="../templates",
        static_folder="../static",
    )
    from app.web import IdConverter

    app.url_map.converters["int"] = IdConverter  # before any route is added
    app.config.from_object(config_class)
    app.config.update(overrides)
    proxies = int(app.config.get("PROXY_FIX_X_FOR", 0) or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    register_extensions(app)
    register_blueprints(app)
    register_namespaces(app)
    register_cli(app)
    register_errorhandlers(app)
    register_subscribers(app)
    return app


def _select_locale() -> str:
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    if getattr(current_user, "is_authenticated", False) and current_user.preferred_language in languages:
        return current_user.preferred_language
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def register_extensions(app: Flask) -> None:
    from app.extensions import babel, csrf, db, limiter, login_manager, mail, migrate, socketio
    from app.message_queue import message_queue

    db.init_app(app)
    migrate.init_app(app, db, directory=str(__import__("config").BASE_DIR / "migrations"))
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)
    mail.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    # Templates read the request's locale: <html lang>, the language switch, bilingual form titles.
    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(token: str):
        from app.auth.services import load_session
        from app.db_types import utcnow

        return load_session(
            token,
            now=utcnow(),
            idle_timeout=app.config["SESSION_IDLE_TIMEOUT"],
            absolute_lifetime=app.config["SESSION_ABSOLUTE_LIFETIME"],
        )

    socketio.init_app(
        app,
        async_mode=app.config["ASYNC_MODE"],
        # Always given, None included: Flask-SocketIO keeps its options between init_app() calls,
        # so an app made later in the same process (tests, CLI) must not inherit an earlier queue.
        client_manager=message_queue(app.config),
        cors_allowed_origins=app.config["SOCKETIO_ALLOWED_ORIGINS"],
        manage_session=False,  # sockets read the Flask session; they never write it
        max_http_buffer_size=64 * 1024,
        # Each socket's events run in its reader, one at a time, each yielding first (GuardedNamespace):
        # with a task per event, one client streaming messages kept its reader busy spawning tasks
        # and every other room waited until it paused (seconds; 50,000 moves froze the server).
        async_handlers=False,
    )


def register_blueprints(app: Flask) -> None:
    from app.audit.views import bp as audit_bp
    from app.auth import bp as auth_bp
    from app.consent.views import bp as consent_bp
    from app.core import bp as core_bp
    from app.districts.views import bp as districts_bp
    from app.games.views import bp as games_bp
    from app.notifications.views import bp as notifications_bp
    from app.permissions import TemplateRules
    from app.scheduling.views import bp as scheduling_bp
    from app.sessions.notes_views import bp as session_notes_bp
    from app.sessions.preflight import bp as preflight_bp
    from app.sessions.views import bp as sessions_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(districts_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(consent_bp)
    app.register_blueprint(scheduling_bp)
    app.register_blueprint(preflight_bp)
    app.register_blueprint(session_notes_bp)
    app.register_blueprint(sessions_bp)
    app.register_blueprint(games_bp)
    if app.config["DEV_OUTBOX_PAGE"]:
        app.register_blueprint(notifications_bp)
    app.jinja_env.globals["can"] = TemplateRules()


def register_namespaces(app: Flask) -> None:
    """Socket.IO namespaces: live sessions (/waiting, /call), then games (/games)."""
    from app.extensions import socketio
    from app.games.events import register as register_games_namespace
    from app.sessions.events import register as register_session_namespaces

    register_session_namespaces(socketio)
    register_games_namespace(socketio)


def register_cli(app: Flask) -> None:
    from app.consent.cli import register as register_consent_cli
    from app.districts.cli import register as register_district_cli
    from app.scheduling.cli import register as register_scheduling_cli
    from app.sessions.cli import register as register_sessions_cli

    register_district_cli(app)
    register_consent_cli(app)
    register_scheduling_cli(app)
    register_sessions_cli(app)


def register_subscribers(app: Flask) -> None:
    """Domains react to each other's signals (arrows point one way: scheduling -> consent)."""
    from app.games.events import register_subscribers as games_subscribers
    from app.scheduling.subscribers import register_subscribers as scheduling_subscribers
    from app.sessions.subscribers import register_subscribers as sessions_subscribers

    scheduling_subscribers(app)
    sessions_subscribers(app)
    games_subscribers(app)


def register_errorhandlers(app: Flask) -> None:
    from app.web import register_errorhandlers as handlers
    from app.web import register_security_headers

    register_security_headers(app)
    handlers(app)
    # Import every model so metadata is complete for migrations and create_all().
    import app.models  # noqa: F401
