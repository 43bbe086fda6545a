"""The backend's background jobs, started and stopped together: the scheduler, the rollup
refresher, the event pruner, the session sweeper, the webhook deliverer and the trigger
worker, each when its own setting enables it.

They run wherever the deployment says (`DT_BACKEND_JOBS`, docs/deployment.md): in a
process of their own (`dtbase serve jobs`, which `dtbase serve backend` starts beside its
workers by default: `jobs_process`), or in a serving process (`create_app`'s lifespan, as
`dtbase up` and the tests run them). Each job claims its work in the database (`SKIP
LOCKED`, advisory locks, bounded deletes), so any number of processes and replicas may run
them: each piece of work is done once.

Not jobs, and so in every serving process: the service-call runner (`BackgroundRuns`,
which `run-service` with `"wait": false` uses; a jobs process has its own for scheduled
and triggered runs), and the LISTEN connection with the event hub that feed the event
streams a process serves.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend import db, thread_names
from dtbase.backend.auth.sweep import SessionSweeper
from dtbase.backend.events.listen import Notifications
from dtbase.backend.events.pruning import EventPruner
from dtbase.backend.events.triggers_worker import TriggerWorker
from dtbase.backend.events.webhooks_delivery import Deliverer, DeliveryPolicy
from dtbase.backend.sensors.refresher import RollupRefresher
from dtbase.backend.services.runs import BackgroundRuns
from dtbase.backend.services.scheduler import Scheduler
from dtbase.core.settings import BackendSettings

logger = logging.getLogger(__name__)

# How often a jobs process started by `dtbase serve backend` checks that it still is.
PARENT_CHECK_SECONDS = 1.0
# The niceness of a jobs process beside serving workers: on CPUs they share, a request
# waits for no job (each webhook delivery costs about a millisecond); the jobs take the
# CPU the requests leave, about a tenth of it when they leave none (Linux's weights).
BESIDE_WORKERS_NICENESS = 10


class Job(Protocol):
    def start(self) -> object: ...

    def stop(self) -> None: ...


class Jobs:
    """Every background job of one process; `start()` starts the enabled ones."""

    def __init__(
        self,
        settings: BackendSettings,
        *,
        engine: Engine,
        session_factory: sessionmaker[Session],
        runs: BackgroundRuns,
        notifications: Notifications,
    ) -> None:
        self.scheduler = Scheduler(
            session_factory, runs, interval_seconds=settings.scheduler_interval_seconds
        )
        self.refresher = RollupRefresher(engine, interval_seconds=settings.rollup_refresh_seconds)
        self.pruner = EventPruner(session_factory, retention_days=settings.events_retention_days)
        self.sweeper = SessionSweeper(session_factory)
        # Also what the subscription routes check a webhook URL against (its policy).
        self.deliverer = Deliverer(
            session_factory,
            DeliveryPolicy.from_settings(settings),
            wakeups=notifications,
            workers=settings.webhook_workers,
        )
        # Starts the service runs of event triggers (docs/events.md, "Triggers").
        self.trigger_worker = TriggerWorker(
            session_factory,
            runs,
            notifications,
            interval_seconds=settings.trigger_poll_seconds,
        )
        jobs: list[tuple[Job, bool]] = [
            (self.scheduler, settings.scheduler_enabled),
            (self.refresher, settings.rollup_refresh_seconds > 0),
            (self.pruner, True),
            (self.sweeper, True),
            (self.deliverer, settings.webhook_delivery_enabled),
            (self.trigger_worker, settings.trigger_worker_enabled),
        ]
        self.enabled = [job for job, enabled in jobs if enabled]
        self._started: list[Job] = []

    def start(self) -> None:
        for job in self.enabled:
            job.start()
            self._started.append(job)

    def stop(self) -> None:
        while self._started:
            self._started.pop().stop()


@contextmanager
def running(settings: BackendSettings, *, database_url: str) -> Iterator[Jobs]:
    """The jobs running in this process, with what they need, until the block ends."""
    engine = db.make_engine(database_url)
    session_factory = db.make_session_factory(engine)
    runs = BackgroundRuns.from_settings(session_factory, settings)
    notifications = Notifications(engine)
    jobs = Jobs(
        settings,
        engine=engine,
        session_factory=session_factory,
        runs=runs,
        notifications=notifications,
    )
    try:
        # Fails the runs stopped backends left pending (never a live process's: they
        # keep theirs alive), then keeps the scheduler's and the triggers' runs alive.
        runs.start()
        notifications.start()
        jobs.start()
        thread_names.show()
        yield jobs
    finally:
        jobs.stop()
        notifications.stop()
        runs.shutdown()
        engine.dispose()


def serve(settings: BackendSettings, *, database_url: str, parent: int | None = None) -> None:
    """Run the jobs until SIGTERM or SIGINT; or, given the `parent` process that started
    this one, until that one is gone (killed, with no chance to stop it: no orphan)."""
    stop = threading.Event()
    if parent is not None:
        _yield_cpu(BESIDE_WORKERS_NICENESS)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with running(settings, database_url=database_url) as jobs:
        logger.info("Background jobs running (pid %d): %s", os.getpid(), _names(jobs))
        while not stop.wait(PARENT_CHECK_SECONDS):
            if parent is not None and os.getppid() != parent:
                logger.warning("The process that started the jobs (%d) is gone: stopping", parent)
                break
    logger.info("Background jobs stopped (pid %d)", os.getpid())


def _yield_cpu(niceness: int) -> None:
    os.nice(niceness)
    # A process in a session of its own (as `jobs_process` starts this one) is, with
    # Linux's autogroups, weighed against whole sessions: its group's niceness counts.
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(str(niceness))


def _names(jobs: Jobs) -> str:
    return ", ".join(type(job).__name__ for job in jobs.enabled) or "none enabled"
