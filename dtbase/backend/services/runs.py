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

import asyncio
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.periodic import Periodic
from dtbase.backend.services import caller, store
from dtbase.backend.services.allowlist import Allowlist
from dtbase.core.settings import BackendSettings

logger = logging.getLogger(__name__)

# How long a pending run may go untouched beyond the service timeout before it is failed.
# Keep-alives come every few seconds, so this only has to absorb a slow database.
STALE_MARGIN_SECONDS = 60.0
SWEEP_EVERY_SECONDS = 60.0


def call_policy(settings: BackendSettings) -> caller.CallPolicy:
    return caller.CallPolicy(
        allowlist=Allowlist.parse(settings.service_url_allowlist),
        timeout_seconds=settings.service_timeout_seconds,
        reply_max_bytes=settings.service_reply_max_bytes,
    )


def record_outcome(
    session_factory: sessionmaker[Session], run_id: int, outcome: caller.CallOutcome
) -> None:
    """Record a pending run's answer in a short transaction of its own."""
    with session_factory.begin() as session:
        completed = store.complete_run(
            session,
            run_id=run_id,
            response_status_code=outcome.status_code,
            response_json=outcome.response_json,
            error=outcome.error,
            duration_seconds=outcome.duration_seconds,
        )
    if not completed:
        logger.warning(
            "Run %d was deleted, or failed as stale, during its call; its answer is lost",
            run_id,
        )


class BackgroundRuns:
    """Performs pending runs, and keeps them alive while it does.

    The calls wait on an event loop of their own (one thread, however many calls), so a
    slow service holds no thread; at most `per_service` runs of one service are called
    at once (the rest of its runs wait their turn), so one slow or flooded service does
    not delay the runs of the others. Recording an answer takes one of `workers` threads
    for one short transaction.

    `start()` fails the runs stopped backends left pending and starts a thread that keeps
    this backend's pending runs alive and sweeps stale ones; without it (tests driving
    the runner directly) runs are performed all the same.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        policy: caller.CallPolicy,
        workers: int,
        per_service: int = 4,
        stale_after_seconds: float | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.policy = policy
        self.workers = workers
        self.per_service = per_service
        if stale_after_seconds is None:
            stale_after_seconds = policy.timeout_seconds + STALE_MARGIN_SECONDS
        self.stale_after = timedelta(seconds=stale_after_seconds)
        # Several keep-alives fit in `stale_after`, so one lost to a database hiccup is harmless.
        self.keep_alive_seconds = min(10.0, stale_after_seconds / 4)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._recorders: ThreadPoolExecutor | None = None
        self._turns: dict[int, asyncio.Semaphore] = {}
        self._in_flight: dict[int, Future[caller.CallOutcome]] = {}
        self._keeper = Periodic(
            "dtbase-run-keeper", self._keep, interval_seconds=self.keep_alive_seconds
        )
        self._last_sweep = 0.0

    @classmethod
    def from_settings(
        cls, session_factory: sessionmaker[Session], settings: BackendSettings
    ) -> BackgroundRuns:
        return cls(
            session_factory,
            policy=call_policy(settings),
            workers=settings.background_run_workers,
            per_service=settings.service_concurrent_runs,
        )

    def submit(self, claimed: store.ClaimedRun) -> Future[caller.CallOutcome]:
        with self._lock:
            loop = self._running_loop()
            future = asyncio.run_coroutine_threadsafe(self._perform(claimed), loop)
            self._in_flight[claimed.run_id] = future
        future.add_done_callback(lambda _: self._done(claimed.run_id))
        return future

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            self._loop_thread = threading.Thread(
                target=loop.run_forever, name="dtbase-runs", daemon=True
            )
            self._loop_thread.start()
            self._recorders = ThreadPoolExecutor(
                max_workers=self.workers, thread_name_prefix="dtbase-run-record"
            )
            self._loop, self._turns = loop, {}
        return self._loop

    async def _perform(self, claimed: store.ClaimedRun) -> caller.CallOutcome:
        target = claimed.target
        turn = self._turns.setdefault(target.service_id, asyncio.Semaphore(self.per_service))
        try:
            async with turn:
                outcome = await caller.call_service(
                    method=target.http_method,
                    url=target.url,
                    parameters=target.parameters,
                    policy=self.policy,
                )
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(
                self._recorders, record_outcome, self.session_factory, claimed.run_id, outcome
            )
            return outcome
        except Exception:
            logger.exception("Run %d could not be completed", claimed.run_id)
            raise

    def _done(self, run_id: int) -> None:
        with self._lock:
            self._in_flight.pop(run_id, None)

    def in_flight(self) -> set[int]:
        """The ids of the runs queued or under way here."""
        with self._lock:
            return set(self._in_flight)

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
        """Wait for the runs queued or under way (each bounded by the service timeout)."""
        with self._lock:
            loop, self._loop = self._loop, None
            pending = list(self._in_flight.values())
        if loop is not None:
            # Queued runs are still kept alive while they drain.
            # Failures were logged by `_perform`; here they only have to be over.
            wait(pending)
            loop.call_soon_threadsafe(loop.stop)
            if self._loop_thread is not None:
                self._loop_thread.join()
            loop.close()
        if self._recorders is not None:
            self._recorders.shutdown(wait=True)
        self._keeper.stop()
