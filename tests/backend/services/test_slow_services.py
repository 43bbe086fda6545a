"""Issue 15, item 7: slow services must not starve the backend, nor each other.

A real slow HTTP service (answers after SLOW_SECONDS) is called many times at once, through
the real backend; unrelated requests and another service's scheduled run must not wait.
"""

from __future__ import annotations

import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
from fastapi.testclient import TestClient

from dtbase.backend.app import create_app
from dtbase.backend.services.scheduler import Scheduler
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from tests.utils.settings import DEFAULT_PASSWORD
from tests.utils.stub_service import StubService

CONCURRENT_CALLS = 50
# Long enough that a request held behind the slow calls cannot pass for a free one on a
# busy machine.
SLOW_SECONDS = 6.0
SLOW = f"/sleep/{SLOW_SECONDS:g}"


def _register(client: httpx.Client | TestClient, name: str, url: str) -> None:
    body = {"name": name, "url": url, "http_method": "POST"}
    assert client.post("/service/insert-service", json=body).status_code == 201


def _timed_list_sensor_types(client: httpx.Client) -> float:
    started = time.monotonic()
    assert client.get("/sensor/list-sensor-types").status_code == 200
    return time.monotonic() - started


def _wait_for(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_many_slow_runs_do_not_hold_up_unrelated_requests(
    admin: httpx.Client, live_backend: str, stub: StubService
) -> None:
    _register(admin, "slow", stub.url(SLOW))
    unloaded = statistics.median(_timed_list_sensor_types(admin) for _ in range(5))
    answers: list[int] = []

    def run() -> None:
        with httpx.Client(base_url=live_backend, headers=admin.headers, timeout=60) as client:
            answers.append(
                client.post("/service/run-service", json={"service_name": "slow"}).status_code
            )

    callers = [threading.Thread(target=run) for _ in range(CONCURRENT_CALLS)]
    for caller in callers:
        caller.start()
    # Measured while the calls are under way (the service has most of them).
    _wait_for(lambda: len(stub.received) >= CONCURRENT_CALLS * 0.8, SLOW_SECONDS * 0.6)
    loaded = _timed_list_sensor_types(admin)
    for caller in callers:
        caller.join()

    assert answers == [200] * CONCURRENT_CALLS
    assert len(stub.received) == CONCURRENT_CALLS
    # Generous: held behind the slow calls, it took the whole SLOW_SECONDS (26.7 s in the
    # audit); free to run, a few times its unloaded time.
    assert loaded < max(20 * unloaded, SLOW_SECONDS / 3), (loaded, unloaded)


def test_background_runs_of_a_slow_service_do_not_delay_another_services_schedule(
    settings: BackendSettings, database_url: str, clean_database: None, stub: StubService
) -> None:
    with TestClient(create_app(settings, database_url=database_url)) as backend:
        login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
        token = backend.post("/auth/login", json=login).json()["access_token"]
        backend.headers["Authorization"] = f"Bearer {token}"
        _register(backend, "slow", stub.url(SLOW))
        _register(backend, "fast", stub.url("/json"))
        due = datetime.now(UTC) + timedelta(days=1)
        schedule = {"service_name": "fast", "name": "s", "interval_seconds": 3600}
        response = backend.post(
            "/service/insert-schedule", json={**schedule, "start_at": due.isoformat()}
        )
        assert response.status_code == 201
        # Twice as many slow runs as the backend has workers (4): all of them queued.
        for _ in range(2 * settings.background_run_workers):
            response = backend.post(
                "/service/run-service", json={"service_name": "slow", "wait": False}
            )
            assert response.status_code == 202
        _wait_for(lambda: len(stub.received) >= settings.service_concurrent_runs, SLOW_SECONDS / 2)

        scheduler: Scheduler = backend.app.state.scheduler  # type: ignore[attr-defined]
        started = time.monotonic()
        [future] = scheduler.tick(due)
        outcome = future.result(timeout=60)
        elapsed = time.monotonic() - started

        assert outcome.status_code == 200
        assert elapsed < SLOW_SECONDS / 2, elapsed
        # One service gets at most `service_concurrent_runs` calls at once; the rest wait.
        slow_calls = [r for r in stub.received if r.path == SLOW]
        assert len(slow_calls) == settings.service_concurrent_runs
        _wait_for(lambda: len([r for r in stub.received if r.path == SLOW]) == 8, 3 * SLOW_SECONDS)
        _wait_for(
            lambda: all(r["status"] != "pending" for r in _details(backend)), 2 * SLOW_SECONDS
        )
        statuses = [r["status"] for r in _details(backend)]
        assert statuses == ["succeeded"] * 9


def _details(backend: TestClient) -> list[dict[str, object]]:
    return list(backend.post("/service/list-runs-details").json())
