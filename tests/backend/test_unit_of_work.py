"""One transaction per request: a request that fails after writing leaves nothing behind.

The backend's tests here run with the database role as a superuser and as a plain role
(`database_url_of_each_role`, `backend_of_each_role`): a managed database gives a plain one.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy import text as sql_text

from dtbase.backend.app import create_app
from dtbase.backend.auth.passwords import hash_password, verify_password
from dtbase.backend.db import SessionDep, make_session_factory
from dtbase.backend.errors import InvalidInput
from dtbase.backend.users import store
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from dtbase.schemas.users import Role
from tests.utils.locks import when_blocked


def _app_with_probe(settings: BackendSettings, database_url: str) -> TestClient:
    router = APIRouter()

    @router.post("/probe/write-then-fail")
    def write_then_fail(session: SessionDep) -> None:
        store.create(session, email="half@example.com", password_hash="not a hash")
        raise InvalidInput("changed my mind")

    @router.post("/probe/write-then-crash")
    def write_then_crash(session: SessionDep) -> None:
        store.create(session, email="crash@example.com", password_hash="not a hash")
        raise RuntimeError("a real server fault")

    @router.post("/probe/store-text")
    def store_text(session: SessionDep, text: str) -> None:
        store.create(session, email="text@example.com", password_hash="not a hash")
        session.execute(sql_text("CREATE TEMP TABLE probe (t text)"))
        session.execute(sql_text("INSERT INTO probe VALUES (:t)"), {"t": text})

    @router.post("/probe/write")
    def write(session: SessionDep) -> None:
        store.create(session, email="whole@example.com", password_hash="not a hash")

    app = create_app(settings, database_url=database_url)
    app.include_router(router)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def live_backend(backend_of_each_role: str) -> str:
    return backend_of_each_role


def _emails(engine: Engine) -> set[str]:
    with make_session_factory(engine)() as session:
        return {user.email for user in store.list_all(session)}


def test_failed_requests_roll_back_and_successful_ones_commit(
    settings: BackendSettings,
    database_url_of_each_role: str,
    engine: Engine,
    clean_database: None,
) -> None:
    with _app_with_probe(settings, database_url_of_each_role) as client:
        failed = client.post("/probe/write-then-fail")
        crashed = client.post("/probe/write-then-crash")
        succeeded = client.post("/probe/write")

    assert (failed.status_code, failed.json()) == (400, {"detail": "changed my mind"})
    assert (crashed.status_code, crashed.json()) == (500, {"detail": "Internal server error"})
    assert succeeded.status_code == 200
    assert _emails(engine) == {DEFAULT_USER_EMAIL, "whole@example.com"}


def test_values_postgresql_cannot_store_are_a_422_and_roll_back(
    settings: BackendSettings,
    database_url_of_each_role: str,
    engine: Engine,
    clean_database: None,
) -> None:
    with _app_with_probe(settings, database_url_of_each_role) as client:
        response = client.post("/probe/store-text", params={"text": "nul\x00byte"})

    assert response.status_code == 422
    assert "NUL" in response.json()["detail"][0]["msg"]
    assert "text@example.com" not in _emails(engine)


def test_default_user_follows_the_setting_at_start_up(
    settings: BackendSettings,
    database_url_of_each_role: str,
    engine: Engine,
    clean_database: None,
) -> None:
    database_url = database_url_of_each_role
    new_password = settings.model_copy(
        update={"default_user_pass": SecretStr("brand new password")}
    )
    with TestClient(create_app(new_password, database_url=database_url)) as client:
        login = {"email": DEFAULT_USER_EMAIL, "password": "brand new password"}
        assert client.post("/auth/login", json=login).status_code == 200

    # Without a password the default user goes, once another admin can take over (a lone
    # admin stays: tests/backend/users/test_accounts.py).
    with make_session_factory(engine).begin() as session:
        store.create(
            session,
            email="admin@example.com",
            password_hash=hash_password("an admin"),
            role=Role.admin,
        )
    unset = settings.model_copy(update={"default_user_pass": None})
    with TestClient(create_app(unset, database_url=database_url)):
        assert DEFAULT_USER_EMAIL not in _emails(engine)
    # Starting again with it unset and the user absent must not fail (DTBase crashed here).
    with TestClient(create_app(unset, database_url=database_url)):
        assert DEFAULT_USER_EMAIL not in _emails(engine)


def test_backends_starting_together_on_a_fresh_database_both_start(
    settings: BackendSettings, engine: Engine, clean_database: None
) -> None:
    # Two backends that both see no default user: the second one's insert waits for the
    # first one's transaction, then fails on the unique email, and must carry on.
    factory = make_session_factory(engine)
    with factory() as first, factory() as second:
        first.delete(store.get(first, email=DEFAULT_USER_EMAIL))  # not via store: last admin
        first.commit()
        assert store.find(second, email=DEFAULT_USER_EMAIL) is None
        store.ensure_default_user(first, password="first")
        second_pid = second.scalar(sql_text("SELECT pg_backend_pid()"))
        when_blocked(
            engine, first, lambda: store.ensure_default_user(second, password="second"), second_pid
        )
        second.commit()

    with factory() as session:
        user = store.get(session, email=DEFAULT_USER_EMAIL)
        assert verify_password("second", user.password_hash)


def test_invalid_input_that_json_cannot_echo_still_gets_a_422(
    live_backend: str, clean_database: None
) -> None:
    login = {"email": DEFAULT_USER_EMAIL, "password": "default-password-for-tests"}
    token = httpx.post(f"{live_backend}/auth/login", json=login).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    for body in (
        b'{"email": NaN}',
        b'{"email": Infinity, "password": -Infinity}',
        b'{"email": "\\ud800", "password": 1}',
    ):
        response = httpx.post(f"{live_backend}/user/create-user", content=body, headers=headers)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"][:2] == ["body", "email"]
