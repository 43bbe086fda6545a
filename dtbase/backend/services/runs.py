"""Runs that are logged before the call: `run-service` with `"wait": false`, and schedules.

The pending row is committed first; then the service is called (no transaction open while
it works) and the row completed in a short transaction of its own.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.services import caller, store

logger = logging.getLogger(__name__)


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
        logger.warning("Run %d was deleted during its call; its answer is lost", claimed.run_id)
    return outcome


class BackgroundRuns:
    """A bounded pool of threads that perform pending runs."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, timeout_seconds: float, workers: int
    ) -> None:
        self.session_factory = session_factory
        self.timeout_seconds = timeout_seconds
        self.workers = workers
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, claimed: store.ClaimedRun) -> Future[caller.CallOutcome]:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.workers, thread_name_prefix="dtbase-run"
                )
            return self._pool.submit(self._perform, claimed)

    def _perform(self, claimed: store.ClaimedRun) -> caller.CallOutcome:
        try:
            return perform_run(self.session_factory, claimed, timeout_seconds=self.timeout_seconds)
        except Exception:
            logger.exception("Run %d could not be completed", claimed.run_id)
            raise

    def shutdown(self) -> None:
        """Wait for the runs under way (each bounded by the service timeout)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
