from __future__ import annotations

import httpx
import jwt
import pytest

from dtbase.core.settings import DEFAULT_USER_EMAIL
from tests.utils.settings import DEFAULT_PASSWORD, JWT_SECRET


def test_login_returns_an_access_and_a_refresh_token(anonymous: httpx.Client) -> None:
    response = anonymous.post(
        "/auth/login", json={"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token"}
    access = jwt.decode(body["access_token"], JWT_SECRET, algorithms=["HS256"])
    refresh = jwt.decode(body["refresh_token"], JWT_SECRET, algorithms=["HS256"])
    # DTBase's claims, plus the login session (`sid`) and the refresh token's number (`n`).
    assert set(access) == {"sub", "token_type", "exp", "sid"}
    assert set(refresh) == {"sub", "token_type", "exp", "sid", "n"}
    assert access["sub"] == refresh["sub"] == DEFAULT_USER_EMAIL
    assert access["sid"] == refresh["sid"]
    assert (access["token_type"], refresh["token_type"]) == ("access", "refresh")
    assert refresh["exp"] - access["exp"] == 3600
    header = jwt.get_unverified_header(body["access_token"])
    assert header == {"alg": "HS256", "typ": "JWT"}


@pytest.mark.parametrize(
    ("email", "password"),
    [
        (DEFAULT_USER_EMAIL, "wrong password"),
        ("nobody@example.com", DEFAULT_PASSWORD),
        (DEFAULT_USER_EMAIL, DEFAULT_PASSWORD.upper()),
    ],
)
def test_bad_credentials_get_401(anonymous: httpx.Client, email: str, password: str) -> None:
    response = anonymous.post("/auth/login", json={"email": email, "password": password})

    assert response.status_code == 401
    assert response.json() == {"detail": "Incorrect email or password"}


@pytest.mark.parametrize(
    ("body", "error_type", "loc"),
    [
        ({"email": DEFAULT_USER_EMAIL}, "missing", ["body", "password"]),
        ({"password": "x"}, "missing", ["body", "email"]),
        ({"email": 123, "password": "x"}, "string_type", ["body", "email"]),
        (None, "missing", ["body"]),
    ],
)
def test_malformed_login_gets_422_naming_the_field(
    anonymous: httpx.Client, body: object, error_type: str, loc: list[str]
) -> None:
    response = anonymous.post("/auth/login", json=body) if body else anonymous.post("/auth/login")

    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert (error["type"], error["loc"]) == (error_type, loc)


def test_non_json_login_gets_422(anonymous: httpx.Client) -> None:
    response = anonymous.post(
        "/auth/login", content=b"email=x", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_body_that_is_not_utf8_gets_422(anonymous: httpx.Client) -> None:
    response = anonymous.post(
        "/auth/login", content=b"\xff\xfe\xfd", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"
