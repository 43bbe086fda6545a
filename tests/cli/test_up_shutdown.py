"""`dtbase up` stops everything it started, whichever signal stops it: Ctrl-C (SIGINT)
from a terminal, SIGTERM from a supervisor (systemd, docker stop, kill)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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
