"""Runs that are logged before the call: `run-service` with `"wait": false`, and schedules.

The pending row is committed first; then the service is called (no transaction open while
it works) and the row completed in a short transaction of its own.

A backend that stops (killed, crashed) between the two leaves the row pending. So while a
run is queued or under way its backend keeps it alive (touches it every few seconds), and
every backend, at start-up and then about once a minute, fails the pending runs nobody has
touched for `stale_after` (the service timeout plus a margin): "the backend stopped before
the service answered".
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.periodic import Periodic
from dtbase.backend.services import caller, store

logger = logging.getLogger(__name__)

# How long a pending run may go untouched beyond the service timeout before it is failed.
# Keep-alives come every few seconds, so this only has to absorb a slow database.
STALE_MARGIN_SECONDS = 60.0
SWEEP_EVERY_SECONDS = 60.0


def perform_run(
    session_factory: sessionmaker[Session], claimed: store.ClaimedRun, *, timeout_seconds: float
) -> caller.CallOutcome:
    """Call the service of a pending run and record its answer."""
    target = claimed.target
    outcome = caller.call_service(
        method=target.http_method,
        url=target.url,
        parameters=target.parameters,
        timeout_seconds=timeout_seconds,
    )
    with session_factory.begin() as session:
        completed = store.complete_run(
            session,
            run_id=claimed.run_id,
            response_status_code=outcome.status_code,
            response_json=outcome.response_json,
            error=outcome.error,
            duration_seconds=outcome.duration_seconds,
        )
    if not completed:
        logger.warning(
            "Run %d was deleted, or failed as stale, during its call; its answer is lost",
            claimed.run_id,
        )
    return outcome


class BackgroundRuns:
    """A bounded pool of threads that perform pending runs, and their keeper.

    `start()` fails the runs stopped backends left pending and starts a thread that keeps
    this backend's pending runs alive and sweeps stale ones; without it (tests driving
    the pool directly) runs are performed all the same.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        timeout_seconds: float,
        workers: int,
        stale_after_seconds: float | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.timeout_seconds = timeout_seconds
        self.workers = workers
        if stale_after_seconds is None:
            stale_after_seconds = timeout_seconds + STALE_MARGIN_SECONDS
        self.stale_after = timedelta(seconds=stale_after_seconds)
        # Several keep-alives fit in `stale_after`, so one lost to a database hiccup is harmless.
        self.keep_alive_seconds = min(10.0, stale_after_seconds / 4)
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight: set[int] = set()
        self._keeper = Periodic(
            "dtbase-run-keeper", self._keep, interval_seconds=self.keep_alive_seconds
        )
        self._last_sweep = 0.0

    def submit(self, claimed: store.ClaimedRun) -> Future[caller.CallOutcome]:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.workers, thread_name_prefix="dtbase-run"
                )
            self._in_flight.add(claimed.run_id)
            return self._pool.submit(self._perform, claimed)

    def in_flight(self) -> set[int]:
        """The ids of the runs queued or under way here."""
        with self._lock:
            return set(self._in_flight)

    def _perform(self, claimed: store.ClaimedRun) -> caller.CallOutcome:
        try:
            return perform_run(self.session_factory, claimed, timeout_seconds=self.timeout_seconds)
        except Exception:
            logger.exception("Run %d could not be completed", claimed.run_id)
            raise
        finally:
            with self._lock:
                self._in_flight.discard(claimed.run_id)

    def keep_alive(self) -> None:
        """Touch the pending runs queued or under way here, so no backend fails them."""
        run_ids = self.in_flight()
        if run_ids:
            with self.session_factory.begin() as session:
                store.keep_runs_alive(session, run_ids=run_ids)

    def sweep(self) -> list[int]:
        """Fail the pending runs left by a backend that stopped; their ids."""
        with self.session_factory.begin() as session:
            failed = store.fail_stale_runs(session, stale_after=self.stale_after)
        if failed:
            logger.warning(
                "Failed %d run(s) left pending by a stopped backend: %s", len(failed), failed
            )
        return failed

    def start(self) -> None:
        """Sweep once now (runs left by this backend's previous life), then keep going."""
        if self._keeper.running:
            return
        try:
            self.sweep()
        except Exception:
            # The database may be unreachable for a moment; the keeper sweeps again soon.
            logger.exception("Could not sweep stale runs at start-up")
        self._last_sweep = time.monotonic()
        self._keeper.start()

    def _keep(self) -> bool:
        self.keep_alive()
        if time.monotonic() - self._last_sweep >= SWEEP_EVERY_SECONDS:
            self._last_sweep = time.monotonic()
            self.sweep()
        return False

    def shutdown(self) -> None:
        """Wait for the runs under way (each bounded by the service timeout)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            # Queued runs are still kept alive while the pool drains.
            pool.shutdown(wait=True)
        self._keeper.stop()
