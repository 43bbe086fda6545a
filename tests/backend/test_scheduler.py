"""The scheduler with a controlled clock: `tick(now)` against the real database, calling a
real HTTP service on 127.0.0.1. Schedules start a month ahead, so the test backend's own
scheduler (on the real clock) never touches them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.app import create_app
from dtbase.backend.db import make_engine, make_session_factory
from dtbase.backend.services import timing
from dtbase.backend.services.runs import BackgroundRuns
from dtbase.backend.services.scheduler import Scheduler
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from tests.utils.settings import DEFAULT_PASSWORD
from tests.utils.stub_service import StubService, local_policy

T = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
SECOND = timedelta(seconds=1)


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def scheduler(factory: sessionmaker[Session]) -> Iterator[Scheduler]:
    runs = BackgroundRuns(factory, policy=local_policy(5), workers=2)
    yield Scheduler(factory, runs)
    runs.shutdown()


def _tick(scheduler: Scheduler, now: datetime) -> list[Any]:
    """Tick and wait for the calls; the outcomes."""
    return [future.result(timeout=30) for future in scheduler.tick(now)]


def _post(client: httpx.Client, path: str, body: Any = None) -> Any:
    response = client.post(f"/service/{path}", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _setup(admin: httpx.Client, url: str, **schedule: Any) -> None:
    _post(admin, "insert-service", {"name": "svc", "url": url, "http_method": "POST"})
    _post(admin, "insert-schedule", {"service_name": "svc", "name": "s", **schedule})


def _schedule(admin: httpx.Client) -> dict[str, Any]:
    [schedule] = _post(admin, "list-schedules")
    return dict(schedule)


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def test_a_due_schedule_fires_once_and_not_before(
    admin: httpx.Client,
    stub: StubService,
    scheduler: Scheduler,
) -> None:
    _setup(
        admin, stub.url("/json"), interval_seconds=3600, start_at=T.isoformat(), parameters={"p": 1}
    )

    assert _tick(scheduler, T - SECOND) == []
    assert stub.received == []

    [outcome] = _tick(scheduler, T)
    assert outcome.status_code == 200
    assert _tick(scheduler, T) == []
    assert _tick(scheduler, T + 3599 * SECOND) == []

    assert [r.json for r in stub.received] == [{"p": 1}]
    [run] = _post(admin, "list-runs-details")
    assert run["status"] == "succeeded"
    assert run["schedule_name"] == "s"
    assert run["response_json"] == {"ok": True, "got": "/json"}
    assert _at(run["timestamp"]) == T
    schedule = _schedule(admin)
    assert _at(schedule["next_run_at"]) == T + timedelta(hours=1)
    assert _at(schedule["last_run_at"]) == T

    [_] = _tick(scheduler, T + timedelta(hours=1))
    assert len(stub.received) == 2


def test_a_parameter_set_schedule_sends_the_sets_parameters(
    admin: httpx.Client,
    stub: StubService,
    scheduler: Scheduler,
) -> None:
    _post(admin, "insert-service", {"name": "svc", "url": stub.url("/json"), "http_method": "PUT"})
    _post(
        admin, "insert-parameter-set", {"service_name": "svc", "name": "ps", "parameters": {"q": 2}}
    )
    body = {"service_name": "svc", "name": "s", "interval_seconds": 60, "start_at": T.isoformat()}
    _post(admin, "insert-schedule", {**body, "parameter_set_name": "ps"})

    _tick(scheduler, T)

    assert [(r.method, r.json) for r in stub.received] == [("PUT", {"q": 2})]
    [run] = _post(admin, "list-runs", {"service_name": "svc", "parameter_set_name": "ps"})
    assert run["parameters"] == {"q": 2}


def test_a_disabled_schedule_does_not_fire(
    admin: httpx.Client,
    stub: StubService,
    scheduler: Scheduler,
) -> None:
    _setup(admin, stub.url("/json"), interval_seconds=60, start_at=T.isoformat(), enabled=False)

    assert _tick(scheduler, T + timedelta(days=1)) == []

    _post(admin, "edit-schedule", {"service_name": "svc", "name": "s", "enabled": True})
    # Enabled again: it runs at the next time of its phase after now (the real clock).
    assert _at(_schedule(admin)["next_run_at"]) == T
    assert len(_tick(scheduler, T)) == 1
    assert stub.received != []


def test_catch_up_after_downtime_runs_once_then_the_next_future_time(
    admin: httpx.Client,
    stub: StubService,
    scheduler: Scheduler,
) -> None:
    _setup(admin, stub.url("/json"), interval_seconds=600, start_at=T.isoformat())
    back = T + timedelta(hours=5, minutes=1)  # 31 occurrences were missed

    assert len(_tick(scheduler, back)) == 1
    assert _tick(scheduler, back) == []

    assert len(stub.received) == 1
    schedule = _schedule(admin)
    assert _at(schedule["next_run_at"]) == T + timedelta(hours=5, minutes=10)  # in phase
    assert _at(schedule["last_run_at"]) == back


def test_cron_catch_up(
    admin: httpx.Client,
    stub: StubService,
    scheduler: Scheduler,
) -> None:
    _setup(admin, stub.url("/json"), cron="0 0 1 1 *")  # New Year, midnight UTC
    first = _at(_schedule(admin)["next_run_at"])
    assert first is not None
    assert (first.month, first.day, first.hour) == (1, 1, 0)
    back = first + timedelta(days=3 * 365 + 40)

    assert len(_tick(scheduler, back)) == 1
    assert _tick(scheduler, back) == []

    assert _at(_schedule(admin)["next_run_at"]) == datetime(back.year + 1, 1, 1, tzinfo=UTC)


def test_a_failing_service_is_logged_as_failed(admin: httpx.Client, scheduler: Scheduler) -> None:
    _setup(admin, "http://127.0.0.1:9/nothing", interval_seconds=60, start_at=T.isoformat())

    [outcome] = _tick(scheduler, T)

    assert outcome.status_code == 502
    [run] = _post(admin, "list-runs-details")
    assert (run["status"], run["response_status_code"], run["schedule_name"]) == (
        "failed",
        502,
        "s",
    )
    assert run["error"]
    # The schedule carries on.
    assert _at(_schedule(admin)["next_run_at"]) == T + timedelta(minutes=1)


def test_two_schedulers_on_one_database_run_each_schedule_once(
    admin: httpx.Client,
    stub: StubService,
    database_url: str,
) -> None:
    count = 40
    _post(admin, "insert-service", {"name": "svc", "url": stub.url("/json"), "http_method": "POST"})
    for index in range(count):
        body = {
            "service_name": "svc",
            "name": f"s{index}",
            "interval_seconds": 3600,
            "start_at": T.isoformat(),
            "parameters": {"index": index},
        }
        _post(admin, "insert-schedule", body)

    engines = [make_engine(database_url), make_engine(database_url)]
    pools = [
        BackgroundRuns(make_session_factory(e), policy=local_policy(5), workers=2) for e in engines
    ]
    # Small batches, so that the two interleave their claims many times.
    schedulers = [
        Scheduler(make_session_factory(e), pool, batch_size=3)
        for e, pool in zip(engines, pools, strict=True)
    ]
    barrier = threading.Barrier(2)
    claimed: list[list[Any]] = [[], []]

    def work(index: int) -> None:
        barrier.wait()
        for now in (T, T + SECOND, T + 2 * SECOND):
            while futures := schedulers[index].tick(now):
                claimed[index].extend(futures)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    outcomes = [future.result(timeout=30) for futures in claimed for future in futures]
    for pool, engine in zip(pools, engines, strict=True):
        pool.shutdown()
        engine.dispose()

    assert len(outcomes) == count
    assert sorted(r.json["index"] for r in stub.received) == list(range(count))
    runs = _post(admin, "list-runs-details")
    assert sorted(r["schedule_name"] for r in runs) == sorted(f"s{i}" for i in range(count))
    assert {r["status"] for r in runs} == {"succeeded"}
    # Both took part (with 40 schedules in batches of 3 one alone is very unlikely).
    print("claimed by each scheduler:", [len(c) for c in claimed])


def test_the_backend_runs_its_scheduler_when_enabled(
    settings: BackendSettings,
    database_url: str,
    clean_database: None,
    stub: StubService,
) -> None:
    enabled = settings.model_copy(
        update={"scheduler_enabled": True, "scheduler_interval_seconds": 0.1}
    )
    app = create_app(enabled, database_url=database_url)
    with TestClient(app) as client:
        login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
        token = client.post("/auth/login", json=login).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        service = {"name": "svc", "url": stub.url("/json"), "http_method": "POST"}
        assert client.post("/service/insert-service", json=service).status_code == 201
        # Overdue at once: by the catch-up policy it runs once, at the next tick.
        past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        body = {"service_name": "svc", "name": "s", "interval_seconds": 3600, "start_at": past}
        assert client.post("/service/insert-schedule", json=body).status_code == 201
        deadline = time.monotonic() + 20
        while (
            not (runs := client.post("/service/list-runs-details").json())
            or runs[0]["status"] == "pending"
        ):
            assert time.monotonic() < deadline, "the scheduler did not run the schedule"
            time.sleep(0.1)
        time.sleep(0.5)  # a few more ticks: still one run
        assert len(client.post("/service/list-runs-details").json()) == 1
    assert runs[0]["schedule_name"] == "s"
    assert len(stub.received) == 1


def test_the_scheduler_is_off_when_disabled(
    settings: BackendSettings,
    database_url: str,
    engine: Engine,
    clean_database: None,
) -> None:
    disabled = settings.model_copy(update={"scheduler_enabled": False})
    app = create_app(disabled, database_url=database_url)
    with TestClient(app):
        assert not app.state.scheduler.running


# --- when schedules fire -------------------------------------------------------------


def test_cron_in_a_zone_with_daylight_saving() -> None:
    # 02:30 London is 01:30 UTC in summer and 02:30 UTC in winter.
    summer = timing.next_cron("30 2 * * *", "Europe/London", datetime(2026, 7, 1, tzinfo=UTC))
    winter = timing.next_cron("30 2 * * *", "Europe/London", datetime(2026, 12, 1, tzinfo=UTC))
    assert summer == datetime(2026, 7, 1, 1, 30, tzinfo=UTC)
    assert winter == datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    # On the spring-forward night 01:30 does not exist: it runs once, just after the gap.
    spring = timing.next_cron("30 1 * * *", "Europe/London", datetime(2026, 3, 28, 12, tzinfo=UTC))
    assert spring == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_next_cron_is_strictly_after() -> None:
    at = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert timing.next_cron("0 0 * * *", "UTC", at) == at + timedelta(days=1)


def test_next_interval_keeps_the_phase() -> None:
    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    assert timing.next_interval(anchor, 60, anchor - SECOND) == anchor
    assert timing.next_interval(anchor, 60, anchor) == anchor + 60 * SECOND
    assert timing.next_interval(anchor, 60, anchor + 61 * SECOND) == anchor + 120 * SECOND
