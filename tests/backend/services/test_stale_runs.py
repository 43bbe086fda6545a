"""Pending runs whose backend stopped before the service answered are failed, once, and
runs a live backend is still working on are not."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.app import create_app
from dtbase.backend.db import make_engine, make_session_factory
from dtbase.backend.services import store
from dtbase.backend.services.runs import BackgroundRuns
from dtbase.core.settings import BackendSettings
from dtbase.schemas.common import utc_now
from tests.utils.gate_service import Gate, gate_service
from tests.utils.stub_service import local_policy

STALE_AFTER = 90.0


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def runs(factory: sessionmaker[Session]) -> Iterator[BackgroundRuns]:
    runs = BackgroundRuns(
        factory, policy=local_policy(10), workers=2, stale_after_seconds=STALE_AFTER
    )
    yield runs
    runs.shutdown()


@pytest.fixture
def gate() -> Iterator[Gate]:
    with gate_service() as gate:
        yield gate


def _service(admin: httpx.Client, url: str = "http://127.0.0.1:9/none") -> None:
    body = {"name": "svc", "url": url, "http_method": "POST"}
    assert admin.post("/service/insert-service", json=body).status_code == 201


def _pending_run(factory: sessionmaker[Session]) -> store.ClaimedRun:
    with factory.begin() as session:
        target = store.run_target(session, service_name="svc", parameters={"p": 1})
        run = store.start_run(session, target=target, timestamp=utc_now())
        return store.ClaimedRun(run_id=run.id, target=target)


def _finished_run(factory: sessionmaker[Session]) -> int:
    with factory.begin() as session:
        target = store.run_target(session, service_name="svc", parameters={"p": 2})
        run = store.log_run(
            session,
            target=target,
            timestamp=utc_now(),
            response_status_code=200,
            response_json={"ok": True},
            error=None,
            duration_seconds=0.1,
        )
        return run.id


def _age(
    factory: sessionmaker[Session], run_id: int, *, created: float, touched: float | None
) -> None:
    """Make the run look created `created` seconds ago and last touched `touched` ago."""
    with factory.begin() as session:
        session.execute(
            text(
                "UPDATE service_run_log SET time_created = now() - make_interval(secs => :c), "
                "time_updated = now() - make_interval(secs => :t) WHERE id = :id"
            ),
            {"c": created, "t": touched, "id": run_id},
        )


def _details(admin: httpx.Client) -> dict[int, dict[str, Any]]:
    response = admin.post("/service/list-runs-details")
    assert response.status_code == 200, response.text
    return {run["id"]: run for run in response.json()}


def test_a_stale_pending_run_is_failed_and_recent_ones_stay_pending(
    admin: httpx.Client, factory: sessionmaker[Session], runs: BackgroundRuns
) -> None:
    _service(admin)
    stale = _pending_run(factory).run_id
    _age(factory, stale, created=3600, touched=None)
    recent = _pending_run(factory).run_id
    _age(factory, recent, created=STALE_AFTER - 30, touched=None)
    kept_alive = _pending_run(factory).run_id
    _age(factory, kept_alive, created=3600, touched=5)
    finished = _finished_run(factory)
    _age(factory, finished, created=3600, touched=None)
    before = _details(admin)

    assert runs.sweep() == [stale]

    after = _details(admin)
    assert after[stale]["status"] == "failed"
    assert after[stale]["error"] == store.STALE_RUN_ERROR
    assert "backend stopped before the service answered" in after[stale]["error"]
    assert after[stale]["response_status_code"] == 504
    assert after[stale]["response_json"] is None
    assert after[stale]["timestamp"] == before[stale]["timestamp"]
    for run_id in (recent, kept_alive):
        assert after[run_id]["status"] == "pending"
        assert after[run_id]["response_status_code"] is None
    assert after[finished] == before[finished]
    # Nothing left to fail.
    assert runs.sweep() == []


def test_two_backends_sweeping_together_fail_each_run_once(
    admin: httpx.Client, database_url: str, factory: sessionmaker[Session]
) -> None:
    _service(admin)
    stale = []
    for _ in range(30):
        run_id = _pending_run(factory).run_id
        _age(factory, run_id, created=3600, touched=None)
        stale.append(run_id)
    engines = [make_engine(database_url), make_engine(database_url)]
    keepers = [
        BackgroundRuns(make_session_factory(e), policy=local_policy(10), workers=1) for e in engines
    ]
    barrier = threading.Barrier(2)
    failed: list[list[int]] = [[], []]

    def sweep(index: int) -> None:
        barrier.wait()
        failed[index] = keepers[index].sweep()

    threads = [threading.Thread(target=sweep, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for engine in engines:
        engine.dispose()

    assert sorted(failed[0] + failed[1]) == stale
    assert not set(failed[0]) & set(failed[1])
    assert {run["status"] for run in _details(admin).values()} == {"failed"}


def test_a_run_kept_alive_is_not_failed_while_its_service_works(
    admin: httpx.Client, factory: sessionmaker[Session], runs: BackgroundRuns, gate: Gate
) -> None:
    _service(admin, gate.url)
    claimed = _pending_run(factory)
    future = runs.submit(claimed)
    assert gate.called.wait(timeout=30)
    assert runs.in_flight() == {claimed.run_id}
    # Long under way (a slow model): older than the bound, but its backend is alive.
    _age(factory, claimed.run_id, created=3600, touched=3600)

    runs.keep_alive()
    assert runs.sweep() == []

    gate.release.set()
    assert future.result(timeout=30).status_code == 200
    run = _details(admin)[claimed.run_id]
    assert run["status"] == "succeeded"
    assert run["response_json"] == {"ok": True}
    assert runs.in_flight() == set()


def test_a_late_answer_does_not_revive_a_run_failed_as_stale(
    admin: httpx.Client, factory: sessionmaker[Session], runs: BackgroundRuns, gate: Gate
) -> None:
    _service(admin, gate.url)
    claimed = _pending_run(factory)
    # Performed by another pool that does not keep its runs alive, as a dead backend.
    dead = BackgroundRuns(factory, policy=local_policy(10), workers=1)
    future = dead.submit(claimed)
    assert gate.called.wait(timeout=30)
    _age(factory, claimed.run_id, created=3600, touched=3600)

    assert runs.sweep() == [claimed.run_id]
    gate.release.set()
    future.result(timeout=30)
    dead.shutdown()

    run = _details(admin)[claimed.run_id]
    assert run["status"] == "failed"
    assert run["error"] == store.STALE_RUN_ERROR


def test_the_backend_fails_stale_runs_when_it_starts(
    admin: httpx.Client,
    settings: BackendSettings,
    database_url: str,
    factory: sessionmaker[Session],
) -> None:
    _service(admin)
    stale = _pending_run(factory).run_id
    age = settings.service_timeout_seconds + 2 * 60
    _age(factory, stale, created=age, touched=age)
    recent = _pending_run(factory).run_id

    app = create_app(settings, database_url=database_url)
    with TestClient(app):
        runs = _details(admin)

    assert runs[stale]["status"] == "failed"
    assert runs[recent]["status"] == "pending"


def test_the_bound_is_the_service_timeout_plus_a_margin(factory: sessionmaker[Session]) -> None:
    runs = BackgroundRuns(factory, policy=local_policy(30), workers=1)
    assert runs.stale_after == timedelta(seconds=90)
    assert runs.keep_alive_seconds <= runs.stale_after.total_seconds() / 4
