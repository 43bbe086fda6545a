"""`dtbase up` stops everything it started, whichever signal stops it: Ctrl-C (SIGINT)
from a terminal, SIGTERM from a supervisor (systemd, docker stop, kill)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from dtbase.core.settings import DEFAULT_USER_EMAIL
from tests.utils.cli import cli_environment, spawn_up, started_up
from tests.utils.processes import alive, descendants, postmaster_pid


def _survivors(pids: set[int], within: float = 10.0) -> set[int]:
    deadline = time.monotonic() + within
    while (running := {pid for pid in pids if alive(pid)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    return running


@pytest.fixture
def reaped() -> Iterator[set[int]]:
    """Processes killed after the test if they survived it (so that a failure leaks none)."""
    pids: set[int] = set()
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_up_stops_everything_it_started(
    tmp_path: Path, stop: signal.Signals, reaped: set[int]
) -> None:
    env = cli_environment(tmp_path / "data")
    process, printed = started_up(env)
    # pg_ctl detaches PostgreSQL from `up`: its pid is in the data directory only.
    postgres = postmaster_pid(tmp_path / "data" / "pgdata")
    started = descendants(process.pid) | {postgres}
    reaped |= started
    assert alive(postgres)

    process.send_signal(stop)
    rest, _ = process.communicate(timeout=90)

    assert _survivors(started) == set(), printed + rest
    assert process.returncode == 0, printed + rest
    assert "dtbase stopped." in rest
    assert not (tmp_path / "data" / "pgdata" / "postmaster.pid").exists()


def test_up_stopped_while_it_starts_leaves_no_database_running(
    tmp_path: Path, reaped: set[int]
) -> None:
    env = cli_environment(tmp_path / "data")
    pid_file = tmp_path / "data" / "pgdata" / "postmaster.pid"
    process = spawn_up(env)
    deadline = time.monotonic() + 90
    # As soon as PostgreSQL has written its pid, while it starts or `up` migrates.
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert process.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.01)
    postgres = postmaster_pid(pid_file.parent)
    reaped.add(postgres)

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=90)

    assert _survivors({postgres}) == set(), output
    assert not pid_file.exists(), output


class _SlowService(BaseHTTPRequestHandler):
    """A service that, once called, waits for the test's word, then reads the backend
    through its API (as services write their results) and answers with what it got."""

    backend: str = ""
    called = threading.Event()
    release = threading.Event()
    answered: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).called.set()
        type(self).release.wait(60)
        try:
            status = str(httpx.get(f"{self.backend}/health", timeout=10).status_code)
        except httpx.TransportError as error:
            status = type(error).__name__
        type(self).answered.append(status)
        body = json.dumps({"backend": status}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def test_up_lets_a_service_run_under_way_finish_before_it_stops(
    tmp_path: Path, reaped: set[int]
) -> None:
    """Ctrl-C while a service runs: the backend goes on serving until the run is done
    (the service's reads and writes through the API are answered), then `up` stops."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    service = f"http://127.0.0.1:{server.server_address[1]}/run"
    env = cli_environment(tmp_path / "data")
    env["DT_SERVICE_URL_ALLOWLIST"] = f"127.0.0.1:{server.server_address[1]}"
    env["DT_DEFAULT_USER_PASS"] = "a-password-for-this-test"
    backend = f"http://127.0.0.1:{env['DT_BACKEND_PORT']}"
    _SlowService.backend = backend
    try:
        process, printed = started_up(env)
        reaped |= descendants(process.pid) | {postmaster_pid(tmp_path / "data" / "pgdata")}
        with httpx.Client(base_url=backend, timeout=30) as client:
            login = {"email": DEFAULT_USER_EMAIL, "password": "a-password-for-this-test"}
            token = client.post("/auth/login", json=login).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            body = {"name": "slow", "url": service, "http_method": "POST"}
            assert client.post("/service/insert-service", json=body).status_code < 300
            run = {"service_name": "slow", "wait": False}
            assert client.post("/service/run-service", json=run).status_code < 300
        assert _SlowService.called.wait(30), printed

        process.send_signal(signal.SIGINT)
        time.sleep(1.5)  # long enough for a backend that stops at once to have stopped
        _SlowService.release.set()
        rest, _ = process.communicate(timeout=120)
    finally:
        _SlowService.release.set()
        server.shutdown()

    assert _SlowService.answered == ["200"], printed + rest
    assert "Waiting for 1 service run(s) under way to finish" in rest
    assert process.returncode == 0, printed + rest
    assert "dtbase stopped." in rest
