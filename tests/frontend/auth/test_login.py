"""Logging in and out, the session's tokens, and where a login leads."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from flask import Flask
from sqlalchemy import Engine, text

from dtbase.client import Client
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.auth import TokenPair
from dtbase.schemas.users import Role
from frontend import create_app
from frontend.auth.session import TOKENS_KEY, USER_KEY, safe_next
from tests.utils.settings import DEFAULT_PASSWORD, JWT_SECRET
from tests.utils.visitors import Visitor, VisitorFactory, csrf_token, frontend_settings, text_of


def test_login_page_has_a_form_with_a_csrf_token(visitor: Visitor) -> None:
    page = visitor.get("/login")

    assert page.status_code == 200
    assert 'name="csrf_token"' in page.text
    assert 'name="email"' in page.text
    assert 'name="password"' in page.text


def test_login_keeps_user_and_tokens_in_the_session(visitor: Visitor) -> None:
    response = visitor.login(DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)

    assert response.request.path == "/home/index"
    assert DEFAULT_USER_EMAIL in response.text
    session = visitor.session()
    assert session[USER_KEY] == {"email": DEFAULT_USER_EMAIL, "role": "admin"}
    assert set(session[TOKENS_KEY]) == {"access_token", "refresh_token"}


def test_login_in_another_case_is_the_same_account(visitor: Visitor) -> None:
    response = visitor.login(DEFAULT_USER_EMAIL.upper(), DEFAULT_PASSWORD)

    assert response.request.path == "/home/index"
    assert visitor.session()[USER_KEY] == {"email": DEFAULT_USER_EMAIL, "role": "admin"}


def test_wrong_password_shows_the_form_again(visitor: Visitor) -> None:
    response = visitor.login(DEFAULT_USER_EMAIL, "not-the-password")

    assert response.status_code == 200
    assert response.request.path == "/login"
    assert "Incorrect email or password." in text_of(response)
    assert USER_KEY not in visitor.session()
    assert visitor.get("/home/index").status_code == 302


def test_unknown_user_gets_the_same_answer(visitor: Visitor) -> None:
    response = visitor.login("nobody@example.com", "whatever")

    assert "Incorrect email or password." in text_of(response)


def test_empty_form_is_refused_by_the_form(visitor: Visitor) -> None:
    response = visitor.login("", "")

    assert response.status_code == 200
    assert "This field is required." in response.text
    assert USER_KEY not in visitor.session()


def test_login_without_csrf_token_is_refused(visitor: Visitor) -> None:
    response = visitor.client.post(
        "/login", data={"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 400
    assert "Form expired" in response.text
    assert USER_KEY not in visitor.session()


def test_login_with_a_forged_csrf_token_is_refused(visitor: Visitor) -> None:
    visitor.get("/login")
    response = visitor.client.post(
        "/login",
        data={"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD, "csrf_token": "forged"},
    )

    assert response.status_code == 400
    assert USER_KEY not in visitor.session()


def test_login_returns_to_the_page_asked_for(visitor: Visitor) -> None:
    redirect = visitor.get("/users/index")
    next_page = parse_qs(urlsplit(redirect.headers["Location"]).query)["next"][0]
    assert next_page == "/users/index"

    response = visitor.login(DEFAULT_USER_EMAIL, DEFAULT_PASSWORD, next_page=next_page)

    assert response.request.path == "/users/index"


@pytest.mark.parametrize(
    "next_page",
    [
        "https://evil.example/",
        "//evil.example/home/index",
        "/\\evil.example",
        "javascript:alert(1)",
        "http://localhost.evil.example/",
    ],
)
def test_login_never_leads_to_another_site(visitor: Visitor, next_page: str) -> None:
    response = visitor.login(DEFAULT_USER_EMAIL, DEFAULT_PASSWORD, next_page=next_page)

    assert response.request.path == "/home/index"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/users/index?tab=1", "/users/index?tab=1"),
        ("http://localhost/users/index", "/users/index"),
        ("https://elsewhere.example/users/index", None),
        ("//elsewhere.example", None),
        ("users/index", None),
        ("/users\n/index", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_next(app: Flask, target: str | None, expected: str | None) -> None:
    with app.test_request_context(base_url="http://localhost"):
        assert safe_next(target) == expected


def test_logged_in_user_skips_the_login_page(admin_visitor: Visitor) -> None:
    response = admin_visitor.get("/login")

    assert response.status_code == 302
    assert response.headers["Location"] == "/home/index"


def test_logout_forgets_the_user_and_tokens(admin_visitor: Visitor) -> None:
    response = admin_visitor.submit("/home/index", "/logout", {})

    assert response.request.path == "/login"
    assert "You are logged out." in response.text
    assert USER_KEY not in admin_visitor.session()
    assert TOKENS_KEY not in admin_visitor.session()
    assert admin_visitor.get("/home/index").status_code == 302


def test_logout_needs_a_post_with_a_csrf_token(admin_visitor: Visitor) -> None:
    assert admin_visitor.get("/logout").status_code == 405
    assert admin_visitor.client.post("/logout").status_code == 400
    assert admin_visitor.get("/home/index").status_code == 200


def test_role_of_a_non_admin_comes_from_the_backend(visitor_factory: VisitorFactory) -> None:
    viewer = visitor_factory(Role.viewer, "viewer@example.com")

    assert viewer.session()[USER_KEY] == {"email": "viewer@example.com", "role": "viewer"}
    assert "viewer" in viewer.get("/home/index").text


def test_sessions_of_one_user_are_independent(app: Flask) -> None:
    one, two = Visitor(app.test_client()), Visitor(app.test_client())
    one.login(DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)
    two.login(DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)

    one.submit("/home/index", "/logout", {})

    assert one.get("/home/index").status_code == 302
    assert two.get("/home/index").status_code == 200


def test_logout_ends_the_tokens_at_the_backend(admin_visitor: Visitor, live_backend: str) -> None:
    # Whoever kept a copy of the cookie (or read the tokens out of it) is logged out too.
    tokens = TokenPair.model_validate(admin_visitor.session()[TOKENS_KEY])

    admin_visitor.submit("/home/index", "/logout", {})

    with httpx.Client(base_url=live_backend) as api:
        for token in (tokens.access_token, tokens.refresh_token):
            me = api.get("/user/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 401


@pytest.mark.parametrize(("environment", "secure"), [("production", True), ("development", False)])
def test_session_cookie_is_secure_outside_development(
    live_backend: str, clean_database: None, environment: str, secure: bool
) -> None:
    app = create_app(frontend_settings(live_backend, environment=environment))
    with app.test_client() as client:
        login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD, "next": ""}
        response = Visitor(client).submit("/login", "/login", login, follow=False)

    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("dtbase_session=")
    assert "HttpOnly" in cookie
    assert ("; Secure" in cookie) == secure


def test_secure_flag_can_be_turned_off_for_plain_http(live_backend: str) -> None:
    settings = frontend_settings(live_backend, session_cookie_secure=False)
    assert create_app(settings).config["SESSION_COOKIE_SECURE"] is False


def _token(token_type: str, *, expires_in: int, email: str = DEFAULT_USER_EMAIL) -> str:
    claims = {"sub": email, "token_type": token_type, "exp": int(time.time()) + expires_in}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def _set_tokens(visitor: Visitor, access_token: str, refresh_token: str) -> None:
    with visitor.client.session_transaction() as session:
        session[TOKENS_KEY] = {"access_token": access_token, "refresh_token": refresh_token}


def test_expired_access_token_is_refreshed_and_kept(
    admin_visitor: Visitor, live_backend: str
) -> None:
    expired = _token("access", expires_in=-10)
    _set_tokens(admin_visitor, expired, admin_visitor.session()[TOKENS_KEY]["refresh_token"])

    response = admin_visitor.get("/users/index")

    assert response.status_code == 200
    assert DEFAULT_USER_EMAIL in response.text
    tokens = admin_visitor.session()[TOKENS_KEY]
    assert tokens["access_token"] != expired
    with Client(live_backend) as api:  # the stored token is the backend's fresh one
        api.tokens = TokenPair.model_validate(tokens)
        assert DEFAULT_USER_EMAIL in api.users.list_users()


@pytest.mark.parametrize(
    ("access", "refresh"),
    [
        ("expired", "expired"),
        ("garbage", "garbage"),
    ],
)
def test_session_that_cannot_be_renewed_goes_back_to_login(
    admin_visitor: Visitor, access: str, refresh: str
) -> None:
    tokens = {
        "expired": (_token("access", expires_in=-10), _token("refresh", expires_in=-5)),
        "garbage": ("not-a-token", "not-a-token-either"),
    }
    _set_tokens(admin_visitor, tokens[access][0], tokens[refresh][1])

    response = admin_visitor.get("/users/index?tab=1")

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/users/index?tab=1"]
    assert USER_KEY not in admin_visitor.session()
    login_page = admin_visitor.get(response.headers["Location"])
    assert "Your session has expired: please log in again." in text_of(login_page)


def test_form_sent_after_the_session_expired_returns_to_its_page(
    admin_visitor: Visitor,
) -> None:
    token = csrf_token(admin_visitor.get("/users/index"))
    _set_tokens(admin_visitor, _token("access", expires_in=-10), _token("refresh", expires_in=-5))

    response = admin_visitor.client.post(
        "/users/create",
        data={
            "csrf_token": token,
            "email": "new@example.com",
            "password": "a password",
            "role": "user",
        },
        headers={"Referer": "http://localhost/users/index"},
    )

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/users/index"]


def test_deleted_user_is_sent_to_login(visitor_factory: VisitorFactory, client: Client) -> None:
    user = visitor_factory(Role.user, "leaving@example.com")
    client.users.delete_user("leaving@example.com")

    response = user.get("/home/index")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def _throttled_addresses(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        keys = connection.execute(text("SELECT key FROM login_attempts")).scalars()
        return {key.removeprefix("address:") for key in keys if key.startswith("address:")}


@pytest.mark.parametrize("proxies", [0, 1])
def test_failed_logins_are_counted_per_visitor_not_per_frontend(
    live_backend: str, clean_database: None, engine: Engine, proxies: int
) -> None:
    # Every login through the site reaches the backend from the frontend's address: the
    # visitor's own address is passed on, or one guesser would lock out every visitor.
    app = create_app(frontend_settings(live_backend, frontend_proxies=proxies))
    with app.test_client() as client:
        client.environ_base["REMOTE_ADDR"] = "10.1.2.3"
        if proxies:  # the proxy at 10.1.2.3 tells who its visitor is
            client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.7"
        Visitor(client).login(DEFAULT_USER_EMAIL, "a wrong password")

    assert _throttled_addresses(engine) == {"198.51.100.7" if proxies else "10.1.2.3"}
