"""`Notifications`: one LISTEN connection wakes threads and asyncio tasks on commit, loses
no wake-up between a read and a wait, and listens again after the database restarts."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from sqlalchemy import Engine

from dtbase.backend import migrate
from dtbase.backend.db import make_engine
from dtbase.backend.events.listen import Notifications
from dtbase.devdb import FAST_UNSAFE_OPTIONS, EmbeddedPostgres, free_port
from tests.utils.event_streams import readings_stored, record_events, run_async


def test_threads_and_tasks_wake_on_commit(engine: Engine, clean_database: None) -> None:
    notifications = Notifications(engine)
    notifications.start()
    try:
        seen = notifications.count
        assert not notifications.wait(0.2, after=seen)

        # A commit before the wait is not lost: the count passed `seen` already.
        record_events(engine, [readings_stored("a")])
        assert notifications.wait(5, after=seen)

        seen = notifications.count
        woken: list[bool] = []
        waiter = threading.Thread(target=lambda: woken.append(notifications.wait(5)))
        waiter.start()
        time.sleep(0.2)
        record_events(engine, [readings_stored("b")])
        waiter.join()
        assert woken == [True]

        async def task() -> tuple[bool, bool]:
            seen = notifications.count
            waiting = asyncio.create_task(notifications.wait_async(5, after=seen))
            await asyncio.sleep(0.2)
            await asyncio.to_thread(record_events, engine, [readings_stored("c")])
            return await waiting, await notifications.wait_async(0.2)

        assert run_async(task()) == (True, False)
    finally:
        notifications.stop()


def test_it_listens_again_after_the_database_restarts(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pgdata", free_port(), options=FAST_UNSAFE_OPTIONS)
    url = server.start()
    engine = make_engine(url)
    notifications = Notifications(engine, reconnect_seconds=0.2)
    try:
        migrate.upgrade(url)
        notifications.start()
        server.stop()
        engine.dispose()
        seen = notifications.count
        server.start()
        # Re-connecting counts as a wake-up: what was sent meanwhile is lost, read again.
        assert notifications.wait(10, after=seen)
        seen = notifications.count
        record_events(engine, [readings_stored("a")])
        assert notifications.wait(10, after=seen)
    finally:
        notifications.stop()
        engine.dispose()
        server.stop()
