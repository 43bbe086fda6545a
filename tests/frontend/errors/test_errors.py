"""Error pages, and what the app does when the backend fails or cannot be reached."""

from __future__ import annotations

import pytest
from flask import Flask

from dtbase.client import ApiError
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.devdb import free_port
from frontend import create_app
from frontend.auth import session as user_session
from frontend.backend import backend
from tests.utils.settings import DEFAULT_PASSWORD
from tests.utils.visitors import Visitor, frontend_settings, text_of


@pytest.fixture
def app_with_test_routes(app: Flask) -> Flask:
    """The app plus routes that fail on purpose, as real pages might."""

    @user_session.login_required
    def crash() -> str:
        raise RuntimeError("boom")

    @user_session.login_required
    def backend_refuses() -> str:  # a page whose backend call gets a 4xx
        backend().users.delete_user("nobody@example.com")
        return "unreachable"

    @user_session.login_required
    def backend_fails() -> str:
        raise ApiError(500, "Internal Server Error", method="GET", path="/x")

    app.add_url_rule("/test/crash", view_func=crash)
    app.add_url_rule("/test/backend-refuses", view_func=backend_refuses)
    app.add_url_rule("/test/backend-fails", view_func=backend_fails)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


@pytest.fixture
def tester(app_with_test_routes: Flask) -> Visitor:
    visitor = Visitor(app_with_test_routes.test_client())
    visitor.login(DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)
    return visitor


def test_unknown_page_is_a_404_with_a_way_home(admin_visitor: Visitor) -> None:
    response = admin_visitor.get("/no/such/page")

    assert response.status_code == 404
    assert "Not found" in response.text
    assert "start again from the home page" in response.text
    assert 'href="/home/index"' in response.text


def test_anonymous_404_offers_the_login(visitor: Visitor) -> None:
    response = visitor.get("/no/such/page")

    assert response.status_code == 404
    assert 'href="/login"' in response.text
    assert 'class="sidebar"' not in response.text


def test_wrong_method_is_a_405(admin_visitor: Visitor) -> None:
    response = admin_visitor.get("/users/create")

    assert response.status_code == 405
    assert "Method not allowed" in response.text


def test_crash_is_a_500_page_that_says_what_to_do(tester: Visitor) -> None:
    response = tester.get("/test/crash")

    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "boom" not in response.text  # no internals shown


def test_backend_4xx_on_a_page_shows_its_detail(tester: Visitor) -> None:
    response = tester.get("/test/backend-refuses")

    assert response.status_code == 400
    assert 'data-testid="error-detail"' in response.text
    assert "User doesn't exist" in text_of(response)


def test_backend_5xx_is_a_502_page(tester: Visitor) -> None:
    response = tester.get("/test/backend-fails")

    assert response.status_code == 502
    assert "The backend failed" in response.text
    assert 'href="/test/backend-fails"' in response.text  # try again


def _unreachable_app(**overrides: object) -> Flask:
    app = create_app(frontend_settings(f"http://127.0.0.1:{free_port()}", **overrides))
    app.config["TESTING"] = True
    return app


def test_unreachable_backend_at_login_says_what_to_do() -> None:
    visitor = Visitor(_unreachable_app().test_client())

    response = visitor.login(DEFAULT_USER_EMAIL, "whatever")

    assert response.status_code == 503
    assert "Backend unreachable" in response.text
    assert "dtbase up" in response.text
    assert "127.0.0.1" not in response.text  # the backend's address is not shown in production


def test_unreachable_backend_on_a_page_offers_to_try_again() -> None:
    visitor = Visitor(_unreachable_app(environment="development").test_client())
    with visitor.client.session_transaction() as session:
        session[user_session.USER_KEY] = {"email": DEFAULT_USER_EMAIL, "role": "admin"}
        session[user_session.TOKENS_KEY] = {"access_token": "a", "refresh_token": "r"}
        session["_user_id"] = DEFAULT_USER_EMAIL

    response = visitor.get("/home/index")

    assert response.status_code == 503
    assert 'href="/home/index"' in response.text
    assert "DT_BACKEND_URL" in response.text  # shown in development
