"""The app as a whole: every private URL needs a login, assets are its own, headers."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from flask import Flask
from pydantic import ValidationError
from werkzeug.routing import IntegerConverter

from dtbase.devdb import free_port
from frontend import app_from_environment, create_app
from frontend.app import CONTENT_SECURITY_POLICY
from frontend.backend import backend_url
from frontend.server import start
from tests.utils.visitors import Visitor, csrf_token, frontend_settings

# The only endpoints an anonymous visitor may reach. Anything added here needs a reason.
PUBLIC_ENDPOINTS = {
    "static",  # the app's own CSS, JS and icon
    "vendor",  # third-party JS and CSS from npm
    "auth.login",
}

STRONG_SECRET = "a-frontend-secret-of-many-different-characters-0123456789"


def _private_urls() -> list[tuple[str, str, str]]:
    """(endpoint, method, url) of every route that is not public, with dummy arguments."""
    app = create_app(frontend_settings("http://127.0.0.1:9"))
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint in PUBLIC_ENDPOINTS:
                continue
            values: dict[str, Any] = {
                arg: 1 if isinstance(rule._converters[arg], IntegerConverter) else "x"
                for arg in rule.arguments
            }
            url = app.url_for(rule.endpoint, **values)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                found.append((rule.endpoint, method, url))
    return found


PRIVATE_URLS = _private_urls()


def test_public_endpoints_exist(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints >= PUBLIC_ENDPOINTS
    assert len(PRIVATE_URLS) >= 8  # home, users' pages and actions, logout


@pytest.mark.parametrize(
    ("endpoint", "method", "url"),
    PRIVATE_URLS,
    ids=[f"{method} {url}" for _, method, url in PRIVATE_URLS],
)
def test_private_url_sends_anonymous_visitor_to_login(
    visitor: Visitor, endpoint: str, method: str, url: str
) -> None:
    if method == "GET":
        response = visitor.client.get(url)
    else:  # a real form's POST: with a valid CSRF token, so only the login check refuses
        token = csrf_token(visitor.get("/login"))
        response = visitor.client.open(url, method=method, data={"csrf_token": token})

    assert response.status_code == 302, f"{endpoint} answered {response.status_code}"
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [url]


def test_pages_forbid_foreign_content_and_caching(visitor: Visitor) -> None:
    response = visitor.get("/login")

    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_session_cookie_is_http_only_and_same_site(visitor: Visitor) -> None:
    response = visitor.get("/login")

    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("dtbase_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


@pytest.mark.parametrize("path", ["css/dtbase.css", "js/dtbase.js", "favicon.svg"])
def test_own_assets_are_served(visitor: Visitor, path: str) -> None:
    response = visitor.get(f"/static/{path}")

    assert response.status_code == 200
    assert response.data


def test_login_page_loads_only_local_assets(visitor: Visitor) -> None:
    page = visitor.get("/login").text

    assert "http://" not in page
    assert "https://" not in page
    assert "<script>" not in page  # no inline script: the CSP would refuse it


def test_vendor_files_come_from_the_assets_folder(visitor: Visitor) -> None:
    response = visitor.get("/vendor/uplot/dist/uPlot.iife.min.js")

    assert response.status_code == 200
    assert b"uPlot" in response.data


@pytest.mark.parametrize(
    "path",
    [
        "/vendor/swagger-ui-dist/package.json",  # not a package the frontend serves
        "/vendor/uplot/../swagger-ui-dist/package.json",
        "/vendor/uplot/dist/missing.js",
    ],
)
def test_vendor_serves_nothing_else(visitor: Visitor, path: str) -> None:
    assert visitor.get(path).status_code == 404


def test_server_serves_the_app_on_the_configured_port(live_backend: str) -> None:
    settings = frontend_settings(live_backend, frontend_port=free_port())
    server = start(settings)
    try:
        assert server.url == f"http://127.0.0.1:{settings.frontend_port}"
        response = httpx.get(f"{server.url}/login", timeout=10)
        assert response.status_code == 200
        assert 'name="csrf_token"' in response.text
    finally:
        server.stop()


def test_app_from_environment_reads_dt_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DT_BACKEND_URL", "http://127.0.0.1:5999")
    monkeypatch.setenv("DT_FRONT_SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("DT_ENVIRONMENT", "production")

    app = app_from_environment()

    assert app.config["SECRET_KEY"] == STRONG_SECRET
    with app.app_context():
        assert backend_url() == "http://127.0.0.1:5999"


def test_app_refuses_a_weak_secret_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DT_FRONT_SECRET_KEY", "secret")
    monkeypatch.setenv("DT_ENVIRONMENT", "production")

    with pytest.raises(ValidationError, match="DT_FRONT_SECRET_KEY is a placeholder"):
        app_from_environment()
