"""Listeners connecting at once take the pool's connections as any small reads do: a few
at a time, never more than the pool keeps. Beyond it the pool opens connections and,
once they are given back, closes as many: the requests after then meet new PostgreSQL
backends, whose caches are cold (1.3 ms more per ingest request of 1,000 readings in
`bench/events.py`, docs/events.md)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event

from dtbase.backend.app import create_app
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from tests.utils.accounts import logged_in
from tests.utils.event_streams import StreamReader
from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD

LISTENERS = 12


@pytest.fixture
def backend(settings: BackendSettings, database_url: str) -> Iterator[tuple[FastAPI, str]]:
    # No background jobs: their statements would share the pool with the streams.
    app = create_app(settings, database_url=database_url, jobs=False)
    with served(app) as url:
        yield app, url


def test_listeners_connecting_at_once_take_no_more_connections_than_the_pool_keeps(
    backend: tuple[FastAPI, str], clean_database: None
) -> None:
    app, url = backend
    engine: Engine = app.state.session_factory.kw["bind"]
    with httpx.Client(base_url=url) as http:
        token = logged_in(http, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD).headers["Authorization"]
    pool = engine.pool
    most = [0]

    def checked_out(*_: object) -> None:
        most[0] = max(most[0], pool.checkedout())  # type: ignore[attr-defined]

    event.listen(engine, "checkout", checked_out)
    barrier = threading.Barrier(LISTENERS)

    def listener(_: int) -> StreamReader:
        barrier.wait()
        return StreamReader(url, "", {"Authorization": token})

    with ThreadPoolExecutor(LISTENERS) as threads:
        readers = list(threads.map(listener, range(LISTENERS)))
    try:
        assert [reader.status for reader in readers] == [200] * LISTENERS
        assert {reader.first().id for reader in readers} == {"0"}
    finally:
        for reader in readers:
            reader.close()
    assert most[0] <= pool.size()  # type: ignore[attr-defined]
