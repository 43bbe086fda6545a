"""`dtbase serve backend --workers N`: N real uvicorn worker processes on one database;
with the jobs in each of them (DT_BACKEND_JOBS=inline), each with its own scheduler and
rollup refresher, and every background job done once (the jobs process: test_jobs_process)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
from sqlalchemy import Engine, text

from dtbase.cli.serve import usable_cores
from tests.utils.backend_processes import (
    backend_environment,
    job_threads,
    serve_backend,
    worker_pids,
)
from tests.utils.schedules import schedule_soon
from tests.utils.sensors import add_sensors
from tests.utils.settings import JWT_SECRET
from tests.utils.stub_service import StubService


def _count(engine: Engine, query: str) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text(query)) or 0)


def test_workers_default_to_one_per_usable_core(
    database_url: str, tmp_path: Path, clean_database: None
) -> None:
    with serve_backend(database_url, tmp_path / "backend.log") as (_, server):
        cores = usable_cores()
        assert len(worker_pids(server)) == (cores if cores > 1 else 0)


def test_with_the_jobs_in_two_workers_each_scheduled_run_happens_once_and_rollups_are_done(
    database_url: str,
    engine: Engine,
    admin: httpx.Client,
    stub: StubService,
    tmp_path: Path,
) -> None:
    log = tmp_path / "backend.log"
    background = {
        "DT_BACKEND_JOBS": "inline",
        "DT_SCHEDULER_INTERVAL_SECONDS": "0.05",
        "DT_ROLLUP_REFRESH_SECONDS": "0.05",
    }
    with serve_backend(database_url, log, "--workers", "2", **background) as (url, server):
        workers = worker_pids(server)
        assert len(workers) == 2
        # Two schedulers, two refreshers (and two of every other job).
        assert all("scheduler" in job_threads(pid) for pid in workers)
        assert all("rollups" in job_threads(pid) for pid in workers)
        # Twenty schedules due once each in the next seconds (then in an hour), for two
        # schedulers that both look every 50 ms.
        schedule_soon(admin, stub.url("/json"), 20)
        # Readings for the refreshers, through the workers themselves.
        with httpx.Client(base_url=url, headers=admin.headers, timeout=30) as served:
            add_sensors(
                served, "Station", [{"name": "t", "units": "K", "datatype": "float"}], ["R"]
            )
            start = datetime(2024, 5, 1, tzinfo=UTC)
            for batch in range(10):
                stamps = [start + timedelta(minutes=100 * batch + k) for k in range(100)]
                readings = {
                    "unique_identifier": "R",
                    "measure_name": "t",
                    "readings": [float(k) for k in range(100)],
                    "timestamps": [stamp.isoformat() for stamp in stamps],
                }
                response = served.post("/sensor/insert-sensor-readings", json=readings)
                assert response.status_code == 201, response.text

        deadline = time.monotonic() + 60
        query = "SELECT count(*) FROM service_run_log WHERE status = 'succeeded'"
        while time.monotonic() < deadline and (
            _count(engine, query) < 20
            or _count(engine, "SELECT count(*) FROM sensor_reading_dirty")
        ):
            time.sleep(0.1)
        time.sleep(1)  # room for a second run of any schedule, if one were to come

    numbers = sorted(received.json["number"] for received in stub.received)
    assert numbers == list(range(20))
    assert _count(engine, "SELECT count(*) FROM service_run_log") == 20
    assert _count(engine, "SELECT count(*) FROM sensor_reading_dirty") == 0
    # Every reading rolled up once per width: 1,000 one-minute buckets, and coarser ones.
    assert (
        _count(engine, "SELECT count(*) FROM sensor_reading_rollup WHERE width_seconds = 60")
        == 1000
    )
    assert "Traceback" not in log.read_text()


def test_the_access_log_is_off_unless_asked_for(
    database_url: str, tmp_path: Path, clean_database: None
) -> None:
    """A log line per request costs every request time in the event loop: off by default,
    on with `--access-log` (or DT_BACKEND_ACCESS_LOG)."""
    logs = {}
    for name, options, env in [
        ("default", (), {}),
        ("option", ("--access-log",), {}),
        ("setting", (), {"DT_BACKEND_ACCESS_LOG": "true"}),
        ("option over setting", ("--no-access-log",), {"DT_BACKEND_ACCESS_LOG": "true"}),
    ]:
        log = tmp_path / f"{name}.log"
        with serve_backend(database_url, log, "--workers", "1", *options, **env) as (url, _):
            assert httpx.get(f"{url}/health?probe=1", timeout=10).status_code == 200
        logs[name] = "GET /health?probe=1" in log.read_text()

    assert logs == {
        "default": False,
        "option": True,
        "setting": True,
        "option over setting": False,
    }


def test_an_idle_connection_stays_open_longer_than_uvicorns_default(
    database_url: str, tmp_path: Path, clean_database: None
) -> None:
    """A client's pool (or a proxy) reuses a kept-alive connection after a pause: if the
    server closed it meanwhile (uvicorn's default after 5 s idle), the request in flight
    fails and the client cannot tell whether it was applied. `bench/load.py` met it as
    read errors when a starved client paused that long."""
    log = tmp_path / "backend.log"
    with serve_backend(database_url, log, "--workers", "1") as (url, _):
        connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
        connection.request("GET", "/health")
        first = connection.getresponse()
        first.read()
        socket = connection.sock
        time.sleep(6)

        connection.request("GET", "/health")
        second = connection.getresponse()

        assert (first.status, second.status) == (200, 200)
        assert connection.sock is socket  # the same connection, not a new one
        connection.close()


def test_a_served_backend_keeps_what_it_holds_at_start_out_of_the_collectors_sight(
    database_url: str, tmp_path: Path
) -> None:
    """`dtbase serve backend`'s app (the factory uvicorn calls in each worker) freezes the
    objects it starts with (`gc.freeze`): full collections, pauses of every request in the
    process, then skip them."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DT_")} | {
        "DT_DATABASE_URL": database_url,
        "DT_JWT_SECRET_KEY": JWT_SECRET,
        "DT_DATA_DIR": str(tmp_path),
    }
    script = (
        "import gc\n"
        "from dtbase.backend.app import app_from_environment\n"
        "before = gc.get_freeze_count()\n"
        "app_from_environment()\n"
        "print(before, gc.get_freeze_count())\n"
    )

    shown = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, check=True
    )

    before, after = (int(count) for count in shown.stdout.split())
    assert before == 0
    assert after > 50_000  # the app, its routes and schemas, and the modules they use


def _connections(pid: int, port: int, status: str) -> int:
    return sum(
        1
        for connection in psutil.Process(pid).net_connections(kind="tcp")
        if connection.laddr.port == port and connection.status == status
    )


@contextmanager
def two_workers(
    database_url: str, tmp_path: Path
) -> Iterator[tuple[str, int, subprocess.Popen[bytes]]]:
    """`serve backend --workers 2` without jobs: its URL, port and process."""
    log = tmp_path / "backend.log"
    with serve_backend(database_url, log, "--workers", "2", "--no-jobs") as (url, server):
        yield url, int(url.rsplit(":", 1)[1]), server


def test_connections_made_together_are_spread_over_the_workers(
    database_url: str, tmp_path: Path, clean_database: None
) -> None:
    # With one socket shared by the workers, a worker whose event loop is busy (here:
    # stopped) when clients connect gets none of them: the other accepts them all, and
    # keeps them, however busy it is later. With a socket each, the kernel spreads them.
    with two_workers(database_url, tmp_path) as (_, port, server):
        workers = worker_pids(server)
        assert len(workers) == 2
        deadline = time.monotonic() + 30
        while not all(_connections(pid, port, psutil.CONN_LISTEN) for pid in workers):
            assert time.monotonic() < deadline, "a worker does not listen"
            time.sleep(0.1)
        os.kill(workers[0], signal.SIGSTOP)
        try:
            clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        finally:
            os.kill(workers[0], signal.SIGCONT)
        try:
            for client in clients:
                client.sendall(b"GET /health HTTP/1.1\r\nHost: backend\r\n\r\n")
            for client in clients:
                assert client.recv(4096).startswith(b"HTTP/1.1 200 ")
            kept = [_connections(pid, port, psutil.CONN_ESTABLISHED) for pid in workers]
        finally:
            for client in clients:
                client.close()
    assert sum(kept) == 40
    # Spread by a hash of each connection's addresses: fewer than 8 of 40 on one of two
    # workers happens about once in 100,000 runs.
    assert min(kept) >= 8, kept


def test_workers_refuse_a_port_in_use(database_url: str, tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        environment = backend_environment(database_url, tmp_path)
        command = [sys.executable, "-m", "dtbase", "serve", "backend", "--no-jobs"]
        result = subprocess.run(
            [*command, "--workers", "2", "--port", str(port)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr, result.stderr


def test_a_killed_worker_is_replaced_and_its_socket_closed(
    database_url: str, tmp_path: Path, clean_database: None
) -> None:
    with two_workers(database_url, tmp_path) as (url, port, server):
        killed = worker_pids(server)[0]
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            workers = worker_pids(server, settle=0.3)
            replaced = len(workers) == 2 and killed not in workers
            if replaced and all(_connections(pid, port, psutil.CONN_LISTEN) for pid in workers):
                break
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.1)
        # The dead worker's socket is not left listening (its connections would wait
        # for nobody): every listening socket on the port is a live worker's.
        listening = [
            connection
            for connection in psutil.net_connections(kind="tcp")
            if getattr(connection.laddr, "port", None) == port
            and connection.status == psutil.CONN_LISTEN
        ]
        assert len(listening) == 2
        for _ in range(20):
            assert httpx.get(f"{url}/health", timeout=10).status_code == 200
