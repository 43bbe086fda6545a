"""dtbase.client against the real backend: login, typed results, errors, token renewal."""

from __future__ import annotations

import time

import jwt
import orjson
import pytest

from dtbase.client import ApiError, Client
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.auth import TokenPair
from dtbase.schemas.users import Role, UserDetails
from tests.utils.settings import DEFAULT_PASSWORD, JWT_SECRET


def _expired(token_type: str, email: str = DEFAULT_USER_EMAIL) -> str:
    claims = {"sub": email, "token_type": token_type, "exp": int(time.time()) - 5}
    return jwt.encode(claims, JWT_SECRET, "HS256")


def test_users_through_the_client(client: Client) -> None:
    client.users.create_user("ana@example.com", "secret-password", Role.viewer)

    assert client.users.list_users() == [DEFAULT_USER_EMAIL, "ana@example.com"]
    assert client.users.list_users_details()[1] == UserDetails(
        email="ana@example.com", role=Role.viewer
    )
    client.users.set_role("ana@example.com", Role.user)
    client.users.change_password("ana@example.com", "other-password")
    client.users.delete_user("ana@example.com")
    assert client.users.list_users() == [DEFAULT_USER_EMAIL]


def test_errors_carry_status_and_detail(client: Client) -> None:
    client.users.create_user("ana@example.com", "secret-password")

    with pytest.raises(ApiError) as duplicate:
        client.users.create_user("ana@example.com", "secret-password")
    with pytest.raises(ApiError) as missing:
        client.users.delete_user("nobody@example.com")

    assert (duplicate.value.status_code, duplicate.value.detail) == (409, "User already exists")
    assert (missing.value.status_code, missing.value.detail) == (400, "User doesn't exist")


def test_errors_describe_themselves_for_people(client: Client) -> None:
    """The frontend and the CLI show `description`: a 422's field errors as one sentence."""
    with pytest.raises(ApiError) as invalid:
        client.request("POST", "/user/create-user", {"email": "not-an-address"})
    with pytest.raises(ApiError) as missing:
        client.users.delete_user("nobody@example.com")

    assert invalid.value.status_code == 422
    assert invalid.value.description.startswith("email: ")
    assert "password: Field required" in invalid.value.description
    assert missing.value.description == "User doesn't exist"


def test_wrong_login_raises(live_backend: str, clean_database: None) -> None:
    with pytest.raises(ApiError) as error:
        Client.logged_in(live_backend, DEFAULT_USER_EMAIL, "wrong")

    assert error.value.status_code == 401
    assert error.value.detail == "Incorrect email or password"


def test_expired_access_token_is_refreshed_by_itself(client: Client) -> None:
    assert client.tokens is not None
    client.tokens = TokenPair(
        access_token=_expired("access"), refresh_token=client.tokens.refresh_token
    )

    assert client.users.list_users() == [DEFAULT_USER_EMAIL]
    assert jwt.decode(client.tokens.access_token, JWT_SECRET, ["HS256"])["exp"] > time.time()


def test_a_body_encoded_beforehand_is_sent_as_json_also_after_a_refresh(client: Client) -> None:
    """`send(content=...)`: bulk writers (the MQTT bridge) encode a large body once, with
    orjson; it goes as JSON, and again as it was when the access token had expired."""
    assert client.tokens is not None
    client.tokens = TokenPair(
        access_token=_expired("access"), refresh_token=client.tokens.refresh_token
    )
    body = {"email": "ana@example.com", "password": "secret-password", "role": "viewer"}
    client.send("POST", "/user/create-user", content=orjson.dumps(body))

    assert client.users.list_users() == [DEFAULT_USER_EMAIL, "ana@example.com"]


def test_expired_refresh_token_logs_in_again(client: Client) -> None:
    client.tokens = TokenPair(access_token=_expired("access"), refresh_token=_expired("refresh"))

    assert client.users.list_users() == [DEFAULT_USER_EMAIL]


def test_expired_tokens_without_credentials_raise(live_backend: str, clean_database: None) -> None:
    stale = TokenPair(access_token=_expired("access"), refresh_token=_expired("refresh"))

    with Client(live_backend, tokens=stale) as client, pytest.raises(ApiError) as error:
        client.users.list_users()

    assert (error.value.status_code, error.value.detail) == (401, "Token has expired")


def test_tokens_from_elsewhere_are_used_as_given(client: Client, live_backend: str) -> None:
    """The frontend keeps tokens in each user's session and hands them to a new client."""
    with Client(live_backend, tokens=client.tokens) as other:
        assert other.users.list_users() == [DEFAULT_USER_EMAIL]


def test_backend_url_comes_from_dt_backend_url(
    monkeypatch: pytest.MonkeyPatch, live_backend: str, clean_database: None
) -> None:
    monkeypatch.setenv("DT_BACKEND_URL", live_backend)

    with Client() as client:
        client.login(DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)
        assert client.users.list_users() == [DEFAULT_USER_EMAIL]


def test_changing_its_own_password_keeps_the_client_logged_in(client: Client) -> None:
    # The backend ends the user's sessions; the client logs in again with the new password.
    client.users.change_password(DEFAULT_USER_EMAIL, "a brand new password")

    assert client.users.me().email == DEFAULT_USER_EMAIL


def test_logout_ends_the_clients_tokens(client: Client, live_backend: str) -> None:
    tokens = client.tokens
    assert tokens is not None

    client.logout()

    with Client(live_backend, tokens=tokens) as stale, pytest.raises(ApiError) as refused:
        stale.users.me()
    assert refused.value.status_code == 401


def test_renew_on_demand_refreshes_or_logs_in_again_and_says_when_it_cannot(
    client: Client, live_backend: str
) -> None:
    """`renew()` is public for requests that go out another way than `send` (a stream
    opened on `client.http`): a fresh access token that the backend takes, or False."""
    client.tokens = TokenPair(access_token=_expired("access"), refresh_token=_expired("refresh"))

    assert client.renew() is True
    fresh = client.tokens
    assert fresh is not None
    assert jwt.decode(fresh.access_token, JWT_SECRET, algorithms=["HS256"])["exp"] > time.time()
    listed = client.http.get(
        "/user/list-users", headers={"Authorization": f"Bearer {fresh.access_token}"}
    )
    assert listed.status_code == 200

    stale = TokenPair(access_token=_expired("access"), refresh_token=_expired("refresh"))
    with Client(live_backend, tokens=stale) as no_credentials:
        assert no_credentials.renew() is False
        assert no_credentials.tokens == stale
