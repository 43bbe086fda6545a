"""`dtbase serve backend` (and `serve jobs`) run as the image runs them, in processes of
their own; and what runs in those processes: uvicorn's workers, the jobs process, threads."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from dtbase.devdb import free_port
from tests.utils.processes import interruptible
from tests.utils.settings import DEFAULT_PASSWORD, JWT_SECRET, LOCAL_SERVICES

# The threads of the background jobs (`dtbase.backend.jobs`), as the kernel shows them
# (`thread_names`): webhook workers are numbered, the others not.
JOB_THREADS = ("scheduler", "rollups", "events-pruner", "session-sweeper", "triggers")
WEBHOOK_THREAD = "webhooks-"


def backend_environment(database_url: str, data_dir: Path, **env: str) -> dict[str, str]:
    """This process's environment without its DT_ settings, for a backend on the test
    database, with `env` on top."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DT_")} | {
        "DT_DATABASE_URL": database_url,
        "DT_JWT_SECRET_KEY": JWT_SECRET,
        "DT_DEFAULT_USER_PASS": DEFAULT_PASSWORD,
        "DT_DATA_DIR": str(data_dir),
        "DT_SERVICE_URL_ALLOWLIST": LOCAL_SERVICES,
        **env,
    }


@contextmanager
def serve_backend(
    database_url: str, log: Path, *options: str, **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`dtbase serve backend` in its own process, as the image runs it, once it answers;
    stopped with SIGTERM at the end, as `docker stop` does."""
    port = free_port()
    environment = backend_environment(database_url, log.parent, **env)
    command = [sys.executable, "-m", "dtbase", "serve", "backend", "--port", str(port), *options]
    with log.open("wb") as output:
        # A group of its own, as a terminal gives a command: Ctrl-C signals the group.
        server = subprocess.Popen(
            command,
            env=environment,
            stdout=output,
            stderr=output,
            preexec_fn=interruptible,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield url, server
    finally:
        server.terminate()
        server.wait(timeout=90)


def children(pid: int) -> list[int]:
    """A process's children: those of each of its threads (the jobs process is started
    by a thread of `serve backend`'s)."""
    found = []
    with contextlib.suppress(OSError):  # it ended
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):  # the thread ended meanwhile
                found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def worker_pids(server: subprocess.Popen[bytes], settle: float = 1.0) -> list[int]:
    """The worker processes uvicorn's supervisor runs (none: it serves in-process), once
    their count has not changed for `settle` seconds (they start one after another)."""
    deadline = time.monotonic() + 30
    seen: list[list[int]] = []
    while time.monotonic() < deadline:
        # Workers are spawned by multiprocessing (its resource tracker is a child too).
        seen.append([pid for pid in children(server.pid) if b"spawn_main" in _command(pid)])
        recent = seen[-int(settle / 0.1) :]
        if len(seen) > settle / 0.1 and all(len(pids) == len(seen[-1]) for pids in recent):
            break
        time.sleep(0.1)
    return seen[-1]


def jobs_pids(server: subprocess.Popen[bytes]) -> list[int]:
    """The jobs processes (`dtbase serve jobs`) the backend runs now."""
    return [pid for pid in children(server.pid) if b"serve\0jobs" in _command(pid)]


def threads(pid: int) -> list[str]:
    """The names of a process's threads, as the kernel shows them."""
    names = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            names.append((task / "comm").read_text().strip())
    return names


def job_threads(pid: int) -> list[str]:
    """The names of a process's threads that run background jobs."""
    return sorted(
        name for name in threads(pid) if name in JOB_THREADS or name.startswith(WEBHOOK_THREAD)
    )
