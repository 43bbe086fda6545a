"""The frontend as a visitor sees it: its settings for tests, and `Visitor`, a test client
that fills in forms the way a browser does (CSRF included)."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from pydantic import SecretStr
from werkzeug.test import TestResponse

from dtbase.client import Client
from dtbase.core.settings import FrontendSettings
from dtbase.schemas.users import Role
from tests.utils.accounts import password_of

FRONT_SECRET = "a-frontend-test-secret-long-enough-to-sign-sessions"
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def frontend_settings(backend_url: str, **overrides: Any) -> FrontendSettings:
    fields: dict[str, Any] = {
        "backend_url": backend_url,
        "front_secret_key": SecretStr(FRONT_SECRET),
        "environment": "production",
    }
    return FrontendSettings(**(fields | overrides))


class Visitor:
    """Someone using the site: pages are fetched, and forms sent with the page's CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, url: str, *, follow: bool = False) -> TestResponse:
        return self.client.get(url, follow_redirects=follow)

    def submit(
        self, page: str, action: str, data: dict[str, str], *, follow: bool = True
    ) -> TestResponse:
        """Open `page`, then POST `data` to `action` as its form would (token and referrer)."""
        token = csrf_token(self.get(page, follow=True))
        return self.client.post(
            action,
            data={"csrf_token": token, **data},
            headers={"Referer": f"http://localhost{page}"},
            follow_redirects=follow,
        )

    def login(self, email: str, password: str, *, next_page: str = "") -> TestResponse:
        return self.submit(
            "/login", "/login", {"email": email, "password": password, "next": next_page}
        )

    def session(self) -> dict[str, Any]:
        with self.client.session_transaction() as session:
            return dict(session)


class VisitorFactory:
    """Creates users of a role (through the API) and visitors logged in as them."""

    def __init__(self, app: Flask, api: Client) -> None:
        self.app, self.api, self.clients = app, api, list[FlaskClient]()

    def __call__(self, role: Role, email: str | None = None) -> Visitor:
        email = email or f"{role}-{len(self.clients)}@example.com"
        self.api.users.create_user(email, password_of(email), role)
        client = self.app.test_client()
        self.clients.append(client)
        visitor = Visitor(client)
        assert visitor.login(email, password_of(email)).status_code == 200
        return visitor

    def close(self) -> None:
        self.clients.clear()


def csrf_token(response: TestResponse) -> str:
    found = CSRF_FIELD.search(response.text)
    assert found, f"no CSRF token on the page:\n{response.text}"
    return found.group(1)


def text_of(response: TestResponse) -> str:
    """The page's text with HTML entities decoded, for looking for messages."""
    return html.unescape(response.text)
