"""`dtbase serve backend` runs the background jobs in a process of its own beside its
uvicorn workers (`dtbase serve jobs`), which run none: it restarts that process when it
dies and stops it with itself; `--no-jobs` runs them nowhere, for a deployment that runs
`dtbase serve jobs` elsewhere; and any number of replicas, each with its jobs process,
do each piece of work once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from dtbase.backend.db import make_session_factory
from dtbase.core.settings import DEFAULT_USER_EMAIL
from tests.utils.accounts import logged_in
from tests.utils.backend_processes import (
    JOB_THREADS,
    backend_environment,
    job_threads,
    jobs_pids,
    serve_backend,
    threads,
    worker_pids,
)
from tests.utils.gate_service import Gate, gate_service
from tests.utils.processes import alive, descendants, interruptible
from tests.utils.schedules import schedule_soon
from tests.utils.settings import DEFAULT_PASSWORD, JWT_SECRET
from tests.utils.stub_service import StubService
from tests.utils.webhooks import Receiver, emit, receiving, wait_until

# Every job of the jobs process, with the default two webhook workers.
ALL_JOBS = sorted([*JOB_THREADS, "webhooks-0", "webhooks-1"])
DELIVERING = {"DT_WEBHOOK_RETRY_SECONDS": "0.05", "DT_WEBHOOK_RETRY_MAX_SECONDS": "0.2"}


@contextmanager
def _admin(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as client:
        yield logged_in(client, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)


def _subscribe(url: str, receiver: Receiver, name: str = "hook") -> None:
    """Subscribe `receiver` to new readings (those that `emit` records)."""
    with _admin(url) as admin:
        body = {"name": name, "url": receiver.url, "query": {"kind": "readings.stored"}}
        response = admin.post("/events/subscriptions/create", json=body)
        assert response.status_code == 201, response.text


def _running_jobs(server: subprocess.Popen[bytes], other_than: int | None = None) -> int:
    """The pid of the backend's jobs process (not `other_than`), once its jobs run."""
    deadline = time.monotonic() + 60
    while True:
        pids = [pid for pid in jobs_pids(server) if pid != other_than]
        if len(pids) == 1 and job_threads(pids[0]) == ALL_JOBS:
            return pids[0]
        assert time.monotonic() < deadline, (pids, [threads(pid) for pid in pids])
        time.sleep(0.1)


def test_the_workers_run_no_job_and_the_jobs_process_runs_every_one(
    database_url: str, engine: Engine, tmp_path: Path, clean_database: None
) -> None:
    log = tmp_path / "backend.log"
    with (
        receiving() as receiver,
        serve_backend(database_url, log, "--workers", "2", **DELIVERING) as (url, server),
    ):
        workers = worker_pids(server)
        jobs = _running_jobs(server)
        _subscribe(url, receiver)
        emit(make_session_factory(engine), 3)
        wait_until(lambda: receiver.ids() == [1, 2, 3], what="three events delivered")

        assert len(workers) == 2
        for worker in workers:
            assert job_threads(worker) == []
            # Its threads are named too: the LISTEN connection that feeds its event
            # streams, and the keeper of its `"wait": false` runs.
            assert {"event-notificat", "run-keeper"} <= set(threads(worker))
        assert job_threads(server.pid) == []
        assert job_threads(jobs) == ALL_JOBS
        # On CPUs shared with the workers, the requests go first.
        assert [_niceness(worker) for worker in workers] == [_niceness(server.pid)] * 2
        assert _niceness(jobs) == min(_niceness(server.pid) + 10, 19)
        # With Linux's autogroups, the group of its session (of its own) is what counts.
        autogroup = Path(f"/proc/{jobs}/autogroup")
        if autogroup.exists():
            assert autogroup.read_text().split()[-1] == "10"
    assert "Traceback" not in log.read_text()


def _niceness(pid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, pid)


def test_a_killed_jobs_process_is_started_again_and_delivery_goes_on(
    database_url: str, engine: Engine, tmp_path: Path, clean_database: None
) -> None:
    log = tmp_path / "backend.log"
    events = make_session_factory(engine)
    with (
        receiving() as receiver,
        serve_backend(database_url, log, "--workers", "1", **DELIVERING) as (url, server),
    ):
        first = _running_jobs(server)
        _subscribe(url, receiver)
        emit(events, 2)
        wait_until(lambda: receiver.ids() == [1, 2], what="two events delivered")

        os.kill(first, signal.SIGKILL)
        second = _running_jobs(server, other_than=first)
        emit(events, 2)
        # At least once: the kill may have come before the second delivery was committed.
        wait_until(lambda: set(receiver.ids()) == {1, 2, 3, 4}, what="delivery going on")

        assert not alive(first)
        assert jobs_pids(server) == [second]
    assert f"The jobs process (pid {first}) was killed by SIGKILL" in log.read_text()


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_stopping_the_backend_leaves_no_process_behind(
    database_url: str, tmp_path: Path, workers: str, stop: signal.Signals, clean_database: None
) -> None:
    log = tmp_path / "backend.log"
    with serve_backend(database_url, log, "--workers", workers) as (_, server):
        jobs = _running_jobs(server)
        serving = worker_pids(server)
        started = descendants(server.pid)
        assert len(serving) == (0 if workers == "1" else 2)
        assert {jobs, *serving} <= started
        # Ctrl-C in a terminal signals the whole foreground group.
        if stop == signal.SIGINT:
            os.killpg(server.pid, stop)
        else:
            server.send_signal(stop)
        server.wait(timeout=90)

        deadline = time.monotonic() + 10
        while (left := {pid for pid in started if alive(pid)}) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert left == set(), log.read_text()
        assert server.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()


def test_the_jobs_process_stops_when_the_backend_is_killed_outright(
    database_url: str, tmp_path: Path, clean_database: None
) -> None:
    """SIGKILL gives the backend no chance to stop its jobs process: it sees its parent
    gone, and stops itself."""
    log = tmp_path / "backend.log"
    with serve_backend(database_url, log, "--workers", "1") as (_, server):
        jobs = _running_jobs(server)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)

        wait_until(lambda: not alive(jobs), timeout=30, what="the jobs process gone")
    assert "The process that started the jobs" in log.read_text()


@pytest.mark.parametrize(
    ("options", "setting", "jobs_process", "jobs_in_workers"),
    [
        (["--no-jobs"], None, False, False),
        ([], "off", False, False),
        (["--jobs"], "off", True, False),
        ([], "inline", False, True),
    ],
    ids=["--no-jobs", "off", "--jobs over off", "inline"],
)
def test_where_the_jobs_run(
    database_url: str,
    tmp_path: Path,
    options: list[str],
    setting: str | None,
    jobs_process: bool,
    jobs_in_workers: bool,
    clean_database: None,
) -> None:
    env = {"DT_BACKEND_JOBS": setting} if setting else {}
    log = tmp_path / "backend.log"
    with serve_backend(database_url, log, "--workers", "2", *options, **env) as (_, server):
        workers = worker_pids(server)
        if jobs_process:
            _running_jobs(server)
        else:
            time.sleep(2)  # room for a jobs process to show up, were one started
            assert jobs_pids(server) == []
        assert len(workers) == 2
        for worker in workers:
            # The names are shown (these threads run whatever the setting says).
            assert "event-notificat" in threads(worker)
            assert job_threads(worker) == (ALL_JOBS if jobs_in_workers else [])


def test_serve_jobs_runs_them_beside_backends_without_and_stops_on_sigterm(
    database_url: str, engine: Engine, tmp_path: Path, clean_database: None
) -> None:
    env = backend_environment(database_url, tmp_path, **DELIVERING)
    log = tmp_path / "jobs.log"
    with (
        receiving() as receiver,
        serve_backend(database_url, tmp_path / "backend.log", "--no-jobs") as (url, _),
        log.open("wb") as output,
    ):
        jobs = subprocess.Popen(
            [sys.executable, "-m", "dtbase", "serve", "jobs"],
            env=env,
            stdout=output,
            stderr=output,
            preexec_fn=interruptible,
        )
        try:
            _subscribe(url, receiver)
            emit(make_session_factory(engine), 3)
            wait_until(lambda: receiver.ids() == [1, 2, 3], what="three events delivered")
            assert job_threads(jobs.pid) == ALL_JOBS
            assert _niceness(jobs.pid) == _niceness(os.getpid())  # no worker beside it

            jobs.send_signal(signal.SIGTERM)
            assert jobs.wait(timeout=60) == 0
        finally:
            if jobs.poll() is None:
                jobs.kill()
                jobs.wait()
    assert "Background jobs stopped" in log.read_text()
    assert "Traceback" not in log.read_text()


def test_serve_jobs_without_a_database_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DT_")}
    shown = subprocess.run(
        [sys.executable, "-m", "dtbase", "serve", "jobs"],
        env=env | {"DT_DATA_DIR": str(tmp_path), "DT_JWT_SECRET_KEY": JWT_SECRET},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 1
    assert "Error: Set DT_DATABASE_URL or DT_SQL_HOST to the database" in shown.stderr


def test_two_backends_each_with_a_jobs_process_deliver_once_and_run_a_schedule_once(
    database_url: str, engine: Engine, stub: StubService, tmp_path: Path, clean_database: None
) -> None:
    """Two replicas on one database: two jobs processes, each with its scheduler looking
    every 50 ms and two webhook workers, claim the same work."""
    background = {**DELIVERING, "DT_SCHEDULER_INTERVAL_SECONDS": "0.05"}
    with ExitStack() as stack:
        receivers = [stack.enter_context(receiving(f"/hook/{n}")) for n in range(3)]
        servers = [
            stack.enter_context(serve_backend(database_url, tmp_path / f"{n}.log", **background))
            for n in range(2)
        ]
        for _, server in servers:
            _running_jobs(server)
        url = servers[0][0]
        for number, receiver in enumerate(receivers):
            _subscribe(url, receiver, f"hook-{number}")
        with _admin(url) as admin:
            schedule_soon(admin, stub.url("/json"), 10)
        emit(make_session_factory(engine), 50)

        query = "SELECT id FROM event WHERE kind = 'readings.stored' ORDER BY id"
        with engine.connect() as connection:
            every_event = list(connection.scalars(text(query)))
        assert len(every_event) == 50
        wait_until(
            lambda: (
                all(set(receiver.ids()) == set(every_event) for receiver in receivers)
                and _count(
                    engine, "SELECT count(*) FROM service_run_log WHERE status = 'succeeded'"
                )
                == 10
            ),
            timeout=60,
            what="every event delivered and every schedule run",
        )
        time.sleep(1)  # room for a second delivery or run, if one were to come

    for receiver in receivers:
        assert receiver.ids() == every_event
    assert sorted(received.json["number"] for received in stub.received) == list(range(10))
    assert _count(engine, "SELECT count(*) FROM service_run_log") == 10


def _count(engine: Engine, query: str) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text(query)) or 0)


# --- pending runs: a process that starts fails only those nobody keeps alive ---------


@pytest.fixture
def gate() -> Iterator[Gate]:
    with gate_service() as gate:
        yield gate


def _long_in_flight(engine: Engine) -> int:
    """The one pending run, made to look long under way (created 10 minutes ago, last
    touched 70 s ago), once its process has touched it again (keeps it alive).

    70 s, not more: every backend on this database fails a run untouched for 90 s (the
    service timeout, 30 s, and a minute's margin), the test process's own live backend
    too (`conftest.live_backend`, which sweeps every minute), and that sweep must not
    fail the run before its process's next touch (every 10 s).
    """
    with engine.begin() as connection:
        run_id = int(connection.scalar(text("SELECT id FROM service_run_log")) or 0)
        connection.execute(
            text(
                "UPDATE service_run_log SET time_created = now() - interval '10 minutes',"
                " time_updated = now() - interval '70 seconds' WHERE id = :id"
            ),
            {"id": run_id},
        )
    touched = (
        "SELECT count(*) FROM service_run_log WHERE status = 'pending'"
        " AND time_updated > now() - interval '1 minute'"
    )
    wait_until(lambda: _count(engine, touched) == 1, timeout=30, what="the run kept alive")
    return run_id


def _status(engine: Engine, run_id: int) -> str:
    with engine.connect() as connection:
        query = text("SELECT status FROM service_run_log WHERE id = :id")
        return str(connection.scalar(query, {"id": run_id}))


def test_a_jobs_process_starting_again_leaves_a_serving_process_run_alone(
    database_url: str, engine: Engine, gate: Gate, tmp_path: Path, clean_database: None
) -> None:
    """A run of `run-service` with "wait": false is the serving process's: it keeps it
    alive, so the jobs process's sweep for runs left by stopped backends, when it starts
    after a crash, leaves it pending."""
    log = tmp_path / "backend.log"
    with serve_backend(database_url, log, "--workers", "1") as (url, server):
        first = _running_jobs(server)
        with _admin(url) as admin:
            service = {"name": "gate", "url": gate.url, "http_method": "POST"}
            assert admin.post("/service/insert-service", json=service).status_code == 201
            body = {"service_name": "gate", "wait": False}
            assert admin.post("/service/run-service", json=body).status_code == 202
        assert gate.called.wait(timeout=30)
        run_id = _long_in_flight(engine)

        os.kill(first, signal.SIGKILL)
        _running_jobs(server, other_than=first)  # it has swept (before its jobs started)
        assert _status(engine, run_id) == "pending"

        gate.release.set()
        wait_until(lambda: _status(engine, run_id) == "succeeded", what="the run completed")
    assert gate.calls == 1


def test_a_serving_process_starting_leaves_a_jobs_process_run_alone(
    database_url: str, engine: Engine, gate: Gate, tmp_path: Path, clean_database: None
) -> None:
    """A scheduled run is the jobs process's: it keeps it alive, so a serving process's
    sweep when it starts leaves it pending."""
    log = tmp_path / "backend.log"
    scheduling = {"DT_SCHEDULER_INTERVAL_SECONDS": "0.05"}
    with serve_backend(database_url, log, "--workers", "1", **scheduling) as (url, server):
        _running_jobs(server)
        with _admin(url) as admin:
            service = {"name": "gate", "url": gate.url, "http_method": "POST"}
            assert admin.post("/service/insert-service", json=service).status_code == 201
            schedule = {
                "service_name": "gate",
                "name": "s",
                "interval_seconds": 3600,
                "start_at": datetime.now(UTC).isoformat(),
            }
            assert admin.post("/service/insert-schedule", json=schedule).status_code == 201
        assert gate.called.wait(timeout=30)
        run_id = _long_in_flight(engine)

        second_log = tmp_path / "second.log"
        with serve_backend(database_url, second_log, "--workers", "1", "--no-jobs"):
            assert _status(engine, run_id) == "pending"

        gate.release.set()
        wait_until(lambda: _status(engine, run_id) == "succeeded", what="the run completed")
    assert gate.calls == 1
