"""Deleting a service while its trigger (or schedule) fires: no deadlock, no 500.

A firing trigger locks its row (the claim), then logs a run, which takes a key-share lock
on the service's row (the run log's foreign key). Deleting the service locks the service's
row, then its triggers' (the cascade). Taken in opposite orders, PostgreSQL aborts one
side ("deadlock detected"): a 500 for the delete, or a failed look for the worker.
Schedules are claimed the same way by the scheduler.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from dtbase.backend.db import make_session_factory
from dtbase.backend.events.triggers_worker import TriggerWorker, look
from dtbase.backend.services import store as services_store
from dtbase.backend.services.runs import BackgroundRuns
from dtbase.backend.services.tables import Service, ServiceSchedule
from dtbase.client import ApiError, Client
from tests.utils.stub_service import StubService, local_policy
from tests.utils.triggers import add_thermometers, post_readings, wait_for

HOUR = timedelta(hours=1)


def _blocked_on_a_lock(engine: Engine) -> bool:
    """Whether a backend's statement waits for a row lock (the delete, here)."""
    with engine.connect() as connection:
        waiting = connection.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        )
    return bool(waiting)


def _delete_in_the_background(
    client: Client, service: str
) -> tuple[threading.Thread, list[object]]:
    """Delete `service` through the API in a thread; its outcome lands in the list."""
    outcome: list[object] = []

    def delete() -> None:
        try:
            outcome.append(client.services.delete_service(service).detail)
        except ApiError as error:
            outcome.append(error)

    thread = threading.Thread(target=delete)
    thread.start()
    return thread, outcome


def _now(session: Session) -> datetime:
    now: datetime | None = session.scalar(select(func.clock_timestamp()))
    assert now is not None
    return now


def _fire_trigger(session: Session) -> Callable[[], object]:
    """The worker's transaction up to its claim; the rest of it, to call later."""
    now = _now(session)
    assert look(session, now=now).claimed == []  # claimed, the burst read, not due yet
    return lambda: look(session, now=now + HOUR).claimed


def _fire_schedule(session: Session) -> Callable[[], object]:
    """The scheduler's claim (`FOR UPDATE SKIP LOCKED` on the schedule), then its run."""
    now = _now(session)
    session.scalars(select(ServiceSchedule).with_for_update(skip_locked=True)).all()
    return lambda: services_store.claim_due(session, now=now + HOUR)


@pytest.mark.parametrize("fire", [_fire_trigger, _fire_schedule], ids=["trigger", "schedule"])
def test_a_delete_that_comes_between_the_claim_and_the_run_waits_for_the_run(
    client: Client,
    engine: Engine,
    fire: Callable[[Session], Callable[[], object]],
) -> None:
    client.services.insert_service("svc", "http://127.0.0.1:9/api", "POST")
    add_thermometers(client, ["A"])
    client.triggers.create_trigger("t", "svc", {"kind": "readings.stored"}, debounce_seconds=10)
    client.services.insert_schedule("svc", "s", interval_seconds=60)
    post_readings(client, "A", 3)

    with Session(engine) as session, session.begin():
        start_runs = fire(session)
        deleting, outcome = _delete_in_the_background(client, "svc")
        wait_for(lambda: _blocked_on_a_lock(engine), what="the delete to wait for the claim")
        assert start_runs()  # a run logged: before the fix, PostgreSQL found a deadlock
    deleting.join(timeout=30)

    assert outcome == ["Service deleted successfully."]
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Service)) == 0


@pytest.fixture
def firing(engine: Engine) -> Iterator[TriggerWorker]:
    """A trigger worker of the test's own, looking as often as it can."""
    factory = make_session_factory(engine)
    runs = BackgroundRuns(factory, policy=local_policy(5), workers=2)
    worker = TriggerWorker(factory, runs, interval_seconds=0.01)
    worker.start()
    yield worker
    worker.stop()
    runs.shutdown()


def test_deleting_services_as_their_triggers_fire_never_deadlocks(
    client: Client,
    stub: StubService,
    firing: TriggerWorker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_thermometers(client, ["A"])
    caplog.set_level(logging.WARNING)
    for round_ in range(25):
        client.services.insert_service("svc", stub.url("/json"), "POST")
        client.triggers.create_trigger(
            "t", "svc", {"kind": "readings.stored"}, debounce_seconds=0, max_runs_per_hour=1000
        )
        post_readings(
            client, "A", 2, datetime.fromisoformat("2026-01-01T00:00:00Z") + round_ * HOUR
        )
        # Delete as the worker claims the burst and logs its run (or just after).
        assert client.services.delete_service("svc").detail == "Service deleted successfully."

    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert problems == []
    assert "deadlock" not in caplog.text.lower()
