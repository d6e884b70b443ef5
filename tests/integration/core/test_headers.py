import re

from app import create_app
from config import ProductionConfig
from tests.conftest import login


def test_security_headers_on_every_page(client, world):
    login(client, world.therapist)
    for path in ("/", "/login", "/home", "/account", "/nope-404"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        assert "object-src 'none'" in csp
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert re.search(r"script-src 'self' 'nonce-[A-Za-z0-9_-]{20,}'", csp)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in response.headers  # development/test: no HSTS


def test_csp_nonce_differs_per_request(client):
    first = client.get("/login").headers["Content-Security-Policy"]
    second = client.get("/login").headers["Content-Security-Policy"]
    assert first != second


def test_every_inline_script_carries_the_nonce(client, world):
    login(client, world.district_admin)
    for path in ("/", "/login", "/home", "/students", "/staff", "/audit/", "/account"):
        response = client.get(path, follow_redirects=True)
        html = response.get_data(as_text=True)
        nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'src="' in tag or f'nonce="{nonce}"' in tag, (path, tag)
        assert not re.search(r"\son[a-z]+=\"", html), f"inline event handler on {path}"
        assert 'style="' not in html, f"inline style on {path}"


def test_production_has_hsts_secure_host_cookie_and_no_outbox(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", "ZGV2LW9ubHktbm90LXNlY3JldC1rZXktMzItYnl0ZXM=")
    app = create_app(ProductionConfig, SQLALCHEMY_DATABASE_URI=database_url, PUBLIC_BASE_URL="https://hr.example")
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["MFA_REQUIRED"]
    assert "outbox.messages" not in app.view_functions
    client = app.test_client()
    response = client.get("/login", base_url="https://hr.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-homeroom=") and "Secure" in cookie and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie and "Domain=" not in cookie and "Path=/" in cookie


def test_production_refuses_to_start_without_its_secrets(monkeypatch):
    for name in ("SECRET_KEY", "DATABASE_URL", "DATA_ENCRYPTION_KEYS"):
        monkeypatch.delenv(name, raising=False)
    try:
        create_app(ProductionConfig)
    except RuntimeError as exc:
        assert "SECRET_KEY" in str(exc) and "DATABASE_URL" in str(exc)
    else:
        raise AssertionError("ProductionConfig started without secrets")


def test_unknown_async_mode_is_refused(monkeypatch):
    class Odd(ProductionConfig):
        ASYNC_MODE = "asyncio-please"

        @classmethod
        def validate(cls):
            super(ProductionConfig, cls).validate()

    try:
        create_app(Odd)
    except RuntimeError as exc:
        assert "ASYNC_MODE" in str(exc)
    else:
        raise AssertionError("accepted an unknown async mode")


def test_friendly_error_pages(client, world):
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "We could not find that page" in response.get_data(as_text=True)
    login(client, world.guardian)
    response = client.get("/staff")
    assert response.status_code == 403 and "You do not have access" in response.get_data(as_text=True)
