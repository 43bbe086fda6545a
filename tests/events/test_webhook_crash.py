"""A backend killed with SIGKILL in the middle of deliveries loses no event: the next one
delivers every event at least once, in order (what was sent in the uncommitted batch is
sent again)."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
from sqlalchemy import Engine

from dtbase.backend.db import make_session_factory
from dtbase.core.settings import DEFAULT_USER_EMAIL
from tests.utils.accounts import logged_in
from tests.utils.backend_processes import serve_backend
from tests.utils.settings import DEFAULT_PASSWORD
from tests.utils.webhooks import emit, receiving, wait_until

EVENTS = 150
DELIVERING = {
    "DT_WEBHOOK_RETRY_SECONDS": "0.05",
    "DT_WEBHOOK_RETRY_MAX_SECONDS": "0.2",
    "DT_SCHEDULER_ENABLED": "false",
    # The serving process delivers, so that killing it kills the deliverer mid-batch
    # (killing a jobs process: tests/backend/test_jobs_process.py).
    "DT_BACKEND_JOBS": "inline",
}


def test_killed_mid_delivery_the_next_backend_delivers_everything_in_order(
    database_url: str, engine: Engine, tmp_path: Path, clean_database: None
) -> None:
    with receiving() as receiver:
        # The backend dies while it waits for the receiver's answer to event 41: whatever
        # batch that is in, it is not committed.
        receiver.hold_id = 41
        log = tmp_path / "first.log"
        with serve_backend(database_url, log, "--workers", "1", **DELIVERING) as (url, server):
            with httpx.Client(base_url=url, timeout=30) as admin:
                logged_in(admin, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)
                body = {"name": "hook", "url": receiver.url}
                response = admin.post("/events/subscriptions/create", json=body)
                assert response.status_code == 201, response.text
            emit(make_session_factory(engine), EVENTS)
            assert receiver.held.wait(timeout=30), "event 41 was never delivered"
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=30)
            receiver.release.set()
        before_restart = len(receiver.received)

        log = tmp_path / "second.log"
        with serve_backend(database_url, log, "--workers", "1", **DELIVERING):
            wait_until(
                lambda: set(receiver.ids()) == set(range(1, EVENTS + 1)),
                timeout=60,
                what="every event delivered",
            )
        ids = receiver.ids()

    assert before_restart < EVENTS
    # In order: never ahead of the next event not yet delivered (a replay restarts lower).
    highest = 0
    for event_id in ids:
        assert event_id <= highest + 1, ids
        highest = max(highest, event_id)
    # The batch under way when the backend died was not committed: it was sent again.
    assert ids.count(41) == 2, ids
    assert "Traceback" not in log.read_text()
