"""Presenting tokens: the checks of API.md 1.2, in their order."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import jwt
import pytest

from dtbase.backend.auth.tokens import Claims, TokenConfig, read_claims
from dtbase.backend.errors import Unauthorized
from dtbase.core.settings import DEFAULT_USER_EMAIL
from tests.utils.settings import DEFAULT_PASSWORD, JWT_SECRET


def _token(secret: str = JWT_SECRET, algorithm: str = "HS256", **claims: object) -> str:
    payload = {"sub": DEFAULT_USER_EMAIL, "token_type": "access", "exp": time.time() + 60}
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm)


@pytest.fixture
def sid(anonymous: httpx.Client) -> str:
    """The session id of a real login of the default user (tokens made with it work)."""
    login = anonymous.post(
        "/auth/login", json={"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
    )
    return str(jwt.decode(login.json()["access_token"], JWT_SECRET, ["HS256"])["sid"])


def _get_users(client: httpx.Client, token: str | None, scheme: str = "Bearer") -> httpx.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return client.get("/user/list-users", headers=headers)


def test_missing_token_is_not_authenticated(anonymous: httpx.Client) -> None:
    response = _get_users(anonymous, None)

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_non_bearer_scheme_is_not_authenticated(anonymous: httpx.Client) -> None:
    response = _get_users(anonymous, _token(), scheme="Basic")

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


def test_bearer_scheme_is_case_insensitive(anonymous: httpx.Client, sid: str) -> None:
    assert _get_users(anonymous, _token(sid=sid), scheme="bEaReR").status_code == 200


@pytest.mark.parametrize(
    "make_token",
    [
        lambda: "garbage",
        lambda: "a.b.c",
        lambda: _token(secret="another secret that is also quite long enough"),
        lambda: _token(algorithm="HS512"),
        lambda: _token(sub=None),
        lambda: _token(exp=None),
        lambda: _token(token_type=None),
    ],
    ids=["garbage", "three-parts", "bad-signature", "wrong-alg", "no-sub", "no-exp", "no-type"],
)
def test_invalid_tokens_cannot_be_validated(
    anonymous: httpx.Client, make_token: Callable[[], str]
) -> None:
    response = _get_users(anonymous, make_token())

    assert response.status_code == 401
    assert response.json() == {"detail": "Could not validate credentials"}
    assert "www-authenticate" not in response.headers


def test_expired_token(anonymous: httpx.Client) -> None:
    response = _get_users(anonymous, _token(exp=int(time.time()) - 10))

    assert response.status_code == 401
    assert response.json() == {"detail": "Token has expired"}


@pytest.mark.parametrize(
    "claims",
    [{}, {"sid": "not a uuid"}, {"sid": "8d8ac610-566d-4ef0-9c22-186b2d3e4f4e"}],
    ids=["no-session", "malformed-session", "unknown-session"],
)
def test_token_without_a_live_session_cannot_be_validated(
    anonymous: httpx.Client, claims: dict[str, str]
) -> None:
    # Signed by us, but naming no session: e.g. a DTBase-style token naming only an email.
    response = _get_users(anonymous, _token(**claims))

    assert response.status_code == 401
    assert response.json() == {"detail": "Could not validate credentials"}


@pytest.mark.parametrize("token_type", ["refresh", "something"])
def test_protected_route_needs_an_access_token(
    anonymous: httpx.Client, sid: str, token_type: str
) -> None:
    response = _get_users(anonymous, _token(sid=sid, token_type=token_type))

    assert response.status_code == 401
    assert response.json() == {"detail": "Token of wrong type"}


def test_extra_claims_are_ignored(anonymous: httpx.Client, sid: str) -> None:
    token = _token(sid=sid, iat=int(time.time()), aud="x")
    assert _get_users(anonymous, token).status_code == 200


def test_unauthenticated_request_with_bad_body_gets_401_not_422(anonymous: httpx.Client) -> None:
    no_body = anonymous.post("/user/create-user")
    not_json = anonymous.post(
        "/user/create-user", content=b"{{{", headers={"content-type": "application/json"}
    )

    assert (no_body.status_code, not_json.status_code) == (401, 401)


def test_wrong_method_is_405_before_authentication(anonymous: httpx.Client) -> None:
    response = anonymous.get("/user/create-user")

    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}


def test_refresh_gives_a_new_working_pair(anonymous: httpx.Client) -> None:
    login = anonymous.post(
        "/auth/login", json={"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
    ).json()

    refreshed = anonymous.post(
        "/auth/refresh", headers={"Authorization": f"Bearer {login['refresh_token']}"}
    )

    assert refreshed.status_code == 200
    assert set(refreshed.json()) == {"access_token", "refresh_token"}
    assert _get_users(anonymous, refreshed.json()["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("make_token", "detail"),
    [
        (lambda sid: None, "Not authenticated"),
        (lambda sid: _token(sid=sid), "Token of wrong type"),
        (
            lambda sid: _token(sid=sid, token_type="refresh", exp=int(time.time()) - 1),
            "Token has expired",
        ),
        (lambda sid: "garbage", "Could not validate credentials"),
    ],
    ids=["none", "access-token", "expired", "garbage"],
)
def test_refresh_refuses(
    anonymous: httpx.Client, sid: str, make_token: Callable[[str], str | None], detail: str
) -> None:
    # Tokens are made when the test runs: made at collection, they could expire first.
    token = make_token(sid)
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    response = anonymous.post("/auth/refresh", headers=headers)

    assert response.status_code == 401
    assert response.json() == {"detail": detail}


def test_a_token_that_passed_before_is_refused_once_expired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Verified tokens are remembered: the expiry must still be checked on every use.
    config = TokenConfig(secret=JWT_SECRET, access_seconds=60, refresh_grace_seconds=60)
    expiry = int(time.time()) + 60
    token = _token(exp=expiry)
    assert read_claims(config, token) == Claims(
        subject=DEFAULT_USER_EMAIL, token_type="access", session_id=None, refresh_number=None
    )

    monkeypatch.setattr(time, "time", lambda: expiry + 1)
    with pytest.raises(Unauthorized, match="Token has expired"):
        read_claims(config, token)
    # Another secret (a restarted backend with a new key) does not reuse the first's checks.
    other = TokenConfig(secret=JWT_SECRET + "-other", access_seconds=60, refresh_grace_seconds=60)
    with pytest.raises(Unauthorized, match="Could not validate credentials"):
        read_claims(other, token)
