"""Tokens end when their session does: logout, password change, deletion; refresh tokens
rotate and a replayed one ends its session (issue 15, item 10)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine

from dtbase.backend.auth import store as auth_store
from dtbase.backend.db import make_session_factory
from dtbase.backend.users import store as users_store
from dtbase.core.settings import DEFAULT_USER_EMAIL
from tests.utils.settings import DEFAULT_PASSWORD

EMAIL, PASSWORD = "someone@example.com", "a password of someone"


def _login(client: httpx.Client, email: str = EMAIL, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _me(client: httpx.Client, token: str) -> httpx.Response:
    return client.get("/user/me", headers={"Authorization": f"Bearer {token}"})


def _refresh(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/auth/refresh", headers={"Authorization": f"Bearer {token}"})


def _refused(response: httpx.Response) -> bool:
    return response.status_code == 401


@pytest.fixture
def someone(admin: httpx.Client) -> str:
    response = admin.post("/user/create-user", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 201
    return EMAIL


def test_logout_ends_this_session_only(anonymous: httpx.Client, someone: str) -> None:
    first, second = _login(anonymous), _login(anonymous)

    response = anonymous.post(
        "/auth/logout", headers={"Authorization": f"Bearer {first['access_token']}"}
    )

    assert response.status_code == 200
    assert response.json() == {"detail": "Logged out"}
    assert _refused(_me(anonymous, first["access_token"]))
    assert _refused(_refresh(anonymous, first["refresh_token"]))
    assert _me(anonymous, second["access_token"]).status_code == 200


def test_logout_with_the_refresh_token(anonymous: httpx.Client, someone: str) -> None:
    # A client whose access token has expired can still end its session.
    tokens = _login(anonymous)

    response = anonymous.post(
        "/auth/logout", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )

    assert response.status_code == 200
    assert _refused(_me(anonymous, tokens["access_token"]))


def test_logout_needs_a_live_token(anonymous: httpx.Client) -> None:
    assert anonymous.post("/auth/logout").json() == {"detail": "Not authenticated"}


@pytest.mark.parametrize("by_admin", [False, True], ids=["own", "by-admin"])
def test_password_change_ends_every_session(
    anonymous: httpx.Client, admin: httpx.Client, someone: str, by_admin: bool
) -> None:
    sessions = [_login(anonymous), _login(anonymous)]
    changer = admin if by_admin else anonymous
    headers = {} if by_admin else {"Authorization": f"Bearer {sessions[0]['access_token']}"}

    response = changer.post(
        "/user/change-password",
        json={"email": EMAIL, "password": "the new password"},
        headers=headers,
    )

    assert response.status_code == 200
    for tokens in sessions:
        assert _refused(_me(anonymous, tokens["access_token"]))
        assert _refused(_refresh(anonymous, tokens["refresh_token"]))
    fresh = _login(anonymous, password="the new password")
    assert _me(anonymous, fresh["access_token"]).json()["email"] == EMAIL
    # The admin's own session is not touched by changing someone else's password.
    assert admin.get("/user/me").status_code == 200


def test_refresh_rotates_and_a_replay_ends_the_session(
    anonymous: httpx.Client, someone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth_store, "REUSE_GRACE", timedelta(0))
    tokens = _login(anonymous)
    rotated = _refresh(anonymous, tokens["refresh_token"])
    assert rotated.status_code == 200
    assert _me(anonymous, rotated.json()["access_token"]).status_code == 200
    again = _refresh(anonymous, rotated.json()["refresh_token"])
    assert again.status_code == 200

    replay = _refresh(anonymous, tokens["refresh_token"])

    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]
    # The whole family ends: the thief's and the owner's tokens alike.
    assert _refused(_refresh(anonymous, again.json()["refresh_token"]))
    assert _refused(_me(anonymous, again.json()["access_token"]))
    assert _refused(_me(anonymous, tokens["access_token"]))


def test_two_refreshes_at_once_with_one_token_keep_the_session(
    anonymous: httpx.Client, someone: str
) -> None:
    # Two requests of one browser that found the access token expired together both
    # refresh with the same token, within moments: neither ends the session.
    tokens = _login(anonymous)

    first = _refresh(anonymous, tokens["refresh_token"])
    second = _refresh(anonymous, tokens["refresh_token"])

    assert (first.status_code, second.status_code) == (200, 200)
    for pair in (first.json(), second.json()):
        assert _me(anonymous, pair["access_token"]).status_code == 200
    assert _refresh(anonymous, second.json()["refresh_token"]).status_code == 200


def test_a_deleted_users_token_does_not_work_for_a_new_account_of_the_same_email(
    anonymous: httpx.Client, admin: httpx.Client, someone: str
) -> None:
    old = _login(anonymous)
    assert admin.post("/user/delete-user", json={"email": EMAIL}).status_code == 200
    created = admin.post("/user/create-user", json={"email": EMAIL, "password": PASSWORD})
    assert created.status_code == 201

    assert _refused(_me(anonymous, old["access_token"]))
    assert _refused(_refresh(anonymous, old["refresh_token"]))
    assert _me(anonymous, _login(anonymous)["access_token"]).status_code == 200


def test_a_restarted_default_user_keeps_its_sessions(admin: httpx.Client, engine: Engine) -> None:
    # Every backend start sets the default user's password: the same password must not
    # end the sessions of the services logged in as it.
    with make_session_factory(engine).begin() as session:
        users_store.ensure_default_user(session, password=DEFAULT_PASSWORD)

    assert admin.get("/user/me").json()["email"] == DEFAULT_USER_EMAIL
