"""Running an action while another database session holds the lock it needs."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

Result = TypeVar("Result")


def when_blocked(
    engine: Engine,
    holder: Session,
    action: Callable[[], Result],
    pid: int | None = None,
    meanwhile: Callable[[], object] = lambda: None,
) -> Result:
    """Run `action` in a worker thread until its database session (`pid`, or any) waits
    for a lock `holder` holds; then run `meanwhile`, commit `holder` and return what
    `action` returns. `holder` commits even if the wait fails, so nothing hangs."""
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(action)
        try:
            _wait_for_lock_wait(engine, pid)
            meanwhile()
        finally:
            holder.commit()
        return running.result(timeout=30)


def _wait_for_lock_wait(engine: Engine, pid: int | None = None) -> int:
    """Wait until the database session `pid` (or any, if None) waits for a lock another
    one holds; returns the waiting session's pid."""
    query = text(
        "SELECT pid, wait_event_type, state, query FROM pg_stat_activity"
        " WHERE pid = coalesce(:pid, pid) AND pid <> pg_backend_pid()"
        # NULLS LAST: a session waiting for nothing (an autovacuum worker) has a NULL
        # wait_event_type, which DESC would put before the one waiting for the lock.
        " ORDER BY wait_event_type = 'Lock' DESC NULLS LAST LIMIT 1"
    )
    deadline = time.monotonic() + 10
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            activity = connection.execute(query, {"pid": pid}).one()
            # A transaction sees one snapshot of pg_stat_activity: end it, or a poll made
            # before the wait began would be all this loop ever sees.
            connection.rollback()
            if activity[1] == "Lock":
                return int(activity[0])
            time.sleep(0.02)
    raise AssertionError(f"session {pid or 'of the backend'} never waited for a lock: {activity}")
