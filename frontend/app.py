"""The Flask application factory."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, current_app, request, send_from_directory
from flask.typing import ResponseReturnValue
from werkzeug.middleware.proxy_fix import ProxyFix

from dtbase.core.settings import FrontendSettings
from frontend import backend
from frontend.auth import session as user_session
from frontend.auth.roles import may_administer, may_write
from frontend.auth.routes import bp as auth_bp
from frontend.errors.routes import bp as errors_bp
from frontend.events import stream as event_stream
from frontend.events.routes import bp as events_bp
from frontend.forms import csrf, typed
from frontend.home.routes import bp as home_bp
from frontend.locations.routes import bp as locations_bp
from frontend.models.routes import bp as models_bp
from frontend.readings.routes import bp as readings_bp
from frontend.sensors.routes import bp as sensors_bp
from frontend.services.routes import bp as services_bp
from frontend.timeseries.routes import bp as timeseries_bp
from frontend.uploads.routes import bp as uploads_bp
from frontend.users.routes import bp as users_bp

logger = logging.getLogger(__name__)

# Third-party packages (installed by npm into DT_ASSETS_DIR) whose files the app serves
# under /vendor/<package>/...; nothing else of node_modules is reachable.
VENDOR_PACKAGES = frozenset(
    {
        "uplot",
        "datatables.net",
        "datatables.net-dt",
        "datatables.net-buttons",
        "datatables.net-buttons-dt",
    }
)

# Everything the pages load comes from this app: no CDN, no inline script.
# Style attributes (not <style> elements) are allowed: DataTables sets some through
# innerHTML while it lays a table out; they cannot run script, and what they could fetch
# is still held to 'self' by img-src and default-src.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "style-src-attr 'unsafe-inline'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    blueprint: str
    writers_only: bool = False


# The sidebar, in order; an item shows once its area's blueprint is registered.
NAVIGATION = (
    NavItem("Home", "home.index", "home"),
    NavItem("Sensors", "sensors.index", "sensors"),
    NavItem("Time series", "timeseries.index", "timeseries"),
    NavItem("Readings", "readings.index", "readings"),
    NavItem("Upload", "uploads.index", "uploads", writers_only=True),
    NavItem("Locations", "locations.index", "locations"),
    NavItem("Models", "models.index", "models"),
    NavItem("Services", "services.index", "services"),
    NavItem("Subscriptions", "events.subscriptions", "events"),
    NavItem("Users", "users.index", "users"),
)


def create_app(settings: FrontendSettings) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        SESSION_COOKIE_NAME="dtbase_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # HTTPS only, except in development: the cookie carries the backend's tokens.
        SESSION_COOKIE_SECURE=_cookie_secure(settings),
        REMEMBER_COOKIE_SECURE=_cookie_secure(settings),
        # A CSRF token lives as long as the session: a page left open for hours still works.
        WTF_CSRF_TIME_LIMIT=None,
        DT_SHOW_BACKEND_URL=settings.environment == "development",
        DT_ENVIRONMENT=settings.environment,
        # The largest request (an uploaded CSV file); Werkzeug answers 413 beyond it.
        MAX_CONTENT_LENGTH=settings.max_upload_mb * 1024 * 1024,
    )
    if settings.frontend_proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.frontend_proxies, x_proto=settings.frontend_proxies
        )
    backend.install(app, settings.backend_url)
    csrf.init_app(app)
    user_session.login_manager.init_app(app)
    for blueprint in (errors_bp, auth_bp, home_bp, users_bp):
        app.register_blueprint(blueprint)
    for blueprint in (sensors_bp, timeseries_bp, readings_bp, uploads_bp):
        app.register_blueprint(blueprint)
    for blueprint in (locations_bp, models_bp, services_bp, events_bp):
        app.register_blueprint(blueprint)
    event_stream.install(app, settings.frontend_streams)
    _serve_vendor_files(app, settings.assets_dir)
    app.context_processor(_layout_context)
    app.after_request(_security_headers)
    return app


def app_from_environment() -> Flask:
    """Entry point for WSGI servers in containers: settings from DT_* variables."""
    return create_app(FrontendSettings())


def _secret_key(settings: FrontendSettings) -> str:
    if settings.front_secret_key is not None and settings.front_secret_key.get_secret_value():
        return settings.front_secret_key.get_secret_value()
    # Only reachable in development: settings refuse a missing secret elsewhere.
    logger.warning("DT_FRONT_SECRET_KEY is unset: sessions will not survive a restart")
    return secrets.token_urlsafe(48)


def _cookie_secure(settings: FrontendSettings) -> bool:
    if settings.session_cookie_secure is not None:
        return settings.session_cookie_secure
    return settings.environment != "development"


def _serve_vendor_files(app: Flask, assets_dir: Path) -> None:
    def vendor(package: str, filename: str) -> ResponseReturnValue:
        if package not in VENDOR_PACKAGES:
            abort(404)
        return send_from_directory(assets_dir / package, filename, max_age=86400)

    app.add_url_rule("/vendor/<package>/<path:filename>", "vendor", vendor)


def _layout_context() -> dict[str, Any]:
    user = user_session.current_or_none()
    pages = current_app.view_functions
    role = user.role if user else None
    navigation = [
        item
        for item in NAVIGATION
        if item.endpoint in pages and (may_write(role) or not item.writers_only)
    ]
    return {
        "account": user,
        "navigation": navigation if user else [],
        "has_page": lambda endpoint: endpoint in pages,
        # Write controls show only to the roles that may use them (frontend/auth/roles.py).
        "may_write": may_write(role),
        "may_administer": may_administer(role),
        "typed": typed,
    }


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint not in ("static", "vendor"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response
