"""The scheduler: a background thread that runs due service schedules.

Every `interval_seconds` it ticks: in one short transaction it claims the due schedules
with `SELECT ... FOR UPDATE SKIP LOCKED`, advances their next run time and logs their runs
as pending, commits, then hands each run to the pool that calls services (the same call
and the same run log as `run-service`). Several backends on one database may each run a
scheduler: no occurrence is run twice.

Catch-up policy: occurrences missed while no scheduler ran (downtime) are not replayed.
A schedule found overdue runs once, at once, and its next run is its next future
occurrence (an interval keeps its phase). A run whose backend stopped before the service
answered is failed by the stale-run sweep of `BackgroundRuns` (`runs.py`).
"""

from __future__ import annotations

from concurrent.futures import Future
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.periodic import Periodic
from dtbase.backend.services import caller, store
from dtbase.backend.services.runs import BackgroundRuns
from dtbase.schemas.common import utc_now


class Scheduler:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        runs: BackgroundRuns,
        *,
        interval_seconds: float = 5.0,
        batch_size: int = 100,
    ) -> None:
        self.session_factory = session_factory
        self.runs = runs
        self.batch_size = batch_size
        self._periodic = Periodic(
            "dtbase-scheduler", self._claim_batch, interval_seconds=interval_seconds
        )

    def tick(self, now: datetime | None = None) -> list[Future[caller.CallOutcome]]:
        """Claim what is due at `now` (default: the clock) and start calling it."""
        now = now or utc_now()
        with self.session_factory.begin() as session:
            claimed = store.claim_due(session, now=now, limit=self.batch_size)
        return [self.runs.submit(run) for run in claimed]

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()

    @property
    def running(self) -> bool:
        return self._periodic.running

    def _claim_batch(self) -> bool:
        # A full batch means more may be due: claim again without waiting.
        return len(self.tick()) >= self.batch_size
