"""The jobs process of `dtbase serve backend`: `dtbase serve jobs` started beside the
uvicorn workers, started again when it dies, and stopped with the backend.

It runs in a session of its own, so that Ctrl-C in a terminal (SIGINT to the whole
foreground group) reaches the backend only, which then stops it: it is never found dead
by a signal meant for its parent and restarted while the backend shuts down. Should the
backend be killed outright (SIGKILL), the jobs process sees its parent gone and stops.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

# The wait before a jobs process that died is started again; it doubles while the new one
# dies as quickly (a crash loop), up to the maximum, and is back to the first once one
# has run for HEALTHY_SECONDS.
RESTART_SECONDS = 1.0
MAX_RESTART_SECONDS = 60.0
HEALTHY_SECONDS = 60.0
# How long a stopping jobs process may finish the work under way (a service call, a
# batch of deliveries) before it is killed.
STOP_SECONDS = 60.0


class JobsProcess:
    """`command` run in a child process, kept running between `start()` and `stop()`."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._supervise, name="dtbase-jobs-supervisor")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the jobs process (SIGTERM, then SIGKILL after STOP_SECONDS), and keep it
        stopped; killed at once if this is interrupted (a second Ctrl-C)."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is not None:
            try:
                process.terminate()
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning("The jobs process did not stop in %s s: killing it", STOP_SECONDS)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        self._thread.join()

    def _supervise(self) -> None:
        next_delay = RESTART_SECONDS
        while True:
            with self._lock:
                if self._stopping.is_set():
                    return
                self.process = subprocess.Popen(self.command, start_new_session=True)
            started = time.monotonic()
            code = self.process.wait()
            if self._stopping.is_set():
                return
            lived = time.monotonic() - started
            delay = RESTART_SECONDS if lived >= HEALTHY_SECONDS else next_delay
            logger.warning(
                "The jobs process (pid %d) %s after %.0f s; starting another in %.0f s",
                self.process.pid,
                _ending(code),
                lived,
                delay,
            )
            if self._stopping.wait(delay):
                return
            next_delay = min(2 * delay, MAX_RESTART_SECONDS)


def _ending(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


@contextmanager
def supervised(enabled: bool) -> Iterator[JobsProcess | None]:
    """A jobs process (`dtbase serve jobs`) running during the block, if `enabled`."""
    if not enabled:
        yield None
        return
    jobs = JobsProcess(
        [sys.executable, "-m", "dtbase", "serve", "jobs", "--parent", str(os.getpid())]
    )
    jobs.start()
    try:
        yield jobs
    finally:
        jobs.stop()
