"""PostgreSQL refusing one request is not PostgreSQL being down: a deadlock is a 409 that
says to try again, a value too large for an index is a 422; neither claims the database
is unavailable (a 503 that invites retrying the same failing request for ever)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import text

from dtbase.backend.app import create_app
from dtbase.backend.db import SessionDep
from dtbase.core.settings import BackendSettings
from tests.utils.servers import served


@pytest.fixture
def refused(settings: BackendSettings, database_url: str, clean_database: None) -> Iterator[str]:
    router = APIRouter()

    @router.post("/probe/deadlock")
    def deadlock(session: SessionDep) -> None:
        # This request's transaction and another one take two advisory locks in opposite
        # orders. PostgreSQL looks for a deadlock once, `deadlock_timeout` after a wait
        # begins: this request waits last and looks first, so it is the one rolled back.
        session.execute(text("SET LOCAL deadlock_timeout = '100ms'"))
        session.execute(text("SELECT pg_advisory_xact_lock(8101)"))
        other = session.connection().engine.connect()
        other.execute(text("SET deadlock_timeout = '10s'"))
        other.execute(text("SELECT pg_advisory_xact_lock(8102)"))

        def the_other_waits() -> None:
            other.execute(text("SELECT pg_advisory_xact_lock(8101)"))
            other.rollback()
            other.close()

        thread = threading.Thread(target=the_other_waits)
        thread.start()
        try:
            time.sleep(0.3)
            session.execute(text("SELECT pg_advisory_xact_lock(8102)"))
        finally:
            session.rollback()  # lets the other transaction have its lock and end
            thread.join(timeout=30)

    @router.post("/probe/index-row-too-large")
    def index_row_too_large(session: SessionDep) -> None:
        session.execute(text("CREATE TEMP TABLE probe_keys (key text PRIMARY KEY)"))
        # Random hex does not compress: 20,000 bytes stay over the index row's limit.
        key = secrets.token_hex(10_000)
        session.execute(text("INSERT INTO probe_keys VALUES (:key)"), {"key": key})

    app = create_app(settings, database_url=database_url)
    app.include_router(router)
    with served(app) as url:
        yield url


def test_a_deadlock_is_a_409_that_says_try_again(refused: str) -> None:
    answer = httpx.post(f"{refused}/probe/deadlock", timeout=30)
    assert answer.status_code == 409, answer.text
    assert "try again" in answer.json()["detail"]
    assert "unavailable" not in answer.text
    # The database is fine: the next request is served.
    assert httpx.get(f"{refused}/health").status_code == 200


def test_a_value_too_large_for_an_index_is_a_422(refused: str) -> None:
    answer = httpx.post(f"{refused}/probe/index-row-too-large", timeout=30)
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["detail"]
    assert problem["msg"].startswith("A value is too large for the database: index row")
