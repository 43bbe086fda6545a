"""One transaction per request: a request that fails after writing leaves nothing behind."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from dtbase.backend.app import create_app
from dtbase.backend.db import SessionDep, make_session_factory
from dtbase.backend.errors import InvalidInput
from dtbase.backend.users import store
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings


def _app_with_probe(settings: BackendSettings, database_url: str) -> TestClient:
    router = APIRouter()

    @router.post("/probe/write-then-fail")
    def write_then_fail(session: SessionDep) -> None:
        store.create(session, email="half@example.com", password="p")
        raise InvalidInput("changed my mind")

    @router.post("/probe/write-then-crash")
    def write_then_crash(session: SessionDep) -> None:
        store.create(session, email="crash@example.com", password="p")
        raise RuntimeError("a real server fault")

    @router.post("/probe/write")
    def write(session: SessionDep) -> None:
        store.create(session, email="whole@example.com", password="p")

    app = create_app(settings, database_url=database_url)
    app.include_router(router)
    return TestClient(app, raise_server_exceptions=False)


def _emails(engine: Engine) -> set[str]:
    with make_session_factory(engine)() as session:
        return {user.email for user in store.list_all(session)}


def test_failed_requests_roll_back_and_successful_ones_commit(
    settings: BackendSettings, database_url: str, engine: Engine, clean_database: None
) -> None:
    with _app_with_probe(settings, database_url) as client:
        failed = client.post("/probe/write-then-fail")
        crashed = client.post("/probe/write-then-crash")
        succeeded = client.post("/probe/write")

    assert (failed.status_code, failed.json()) == (400, {"detail": "changed my mind"})
    assert (crashed.status_code, crashed.json()) == (500, {"detail": "Internal server error"})
    assert succeeded.status_code == 200
    assert _emails(engine) == {DEFAULT_USER_EMAIL, "whole@example.com"}


def test_default_user_follows_the_setting_at_start_up(
    settings: BackendSettings, database_url: str, engine: Engine, clean_database: None
) -> None:
    new_password = settings.model_copy(update={"default_user_pass": SecretStr("brand new")})
    with TestClient(create_app(new_password, database_url=database_url)) as client:
        login = {"email": DEFAULT_USER_EMAIL, "password": "brand new"}
        assert client.post("/auth/login", json=login).status_code == 200

    unset = settings.model_copy(update={"default_user_pass": None})
    with TestClient(create_app(unset, database_url=database_url)):
        assert DEFAULT_USER_EMAIL not in _emails(engine)
    # Starting again with it unset and the user absent must not fail (DTBase crashed here).
    with TestClient(create_app(unset, database_url=database_url)):
        assert DEFAULT_USER_EMAIL not in _emails(engine)
