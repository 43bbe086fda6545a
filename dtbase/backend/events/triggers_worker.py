"""The trigger worker: a background thread that turns bursts of events into service runs.

Every look, in one short transaction, it claims the enabled triggers that have new events
or a waiting burst with `SELECT ... FOR UPDATE SKIP LOCKED`, reads each one's matching
events after its cursor into its burst (grouped by the parameters they fill in), and,
when a burst is due, logs one pending run per group, clears the burst and advances the
cursor; then it commits and hands the runs to the pool that performs background runs
(the same calls, the same run log, as schedules and `run-service`). Several backends on
one database may each run a worker: a trigger is claimed by one at a time, and its burst
and cursor move in the same transaction as the runs are logged, so a burst runs once.

The loop guard: a trigger that would start more than `max_runs_per_hour` runs within an
hour is disabled instead, with the reason (a trigger whose service makes the events it
listens to, directly or through other triggers, would otherwise run forever). A trigger
on its own service's `service_run.finished` events is refused when it is created.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, ColumnExpressionArgument, exists, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.events import store as events_store
from dtbase.backend.events.listen import Notifications
from dtbase.backend.events.triggers_burst import Event, add_events, fill, groups_of, is_due
from dtbase.backend.events.triggers_tables import EventTrigger
from dtbase.backend.services import caller
from dtbase.backend.services import store as services_store
from dtbase.backend.services.runs import BackgroundRuns
from dtbase.backend.services.tables import Service, ServiceParameterSet, ServiceRunLog
from dtbase.schemas.events import EventQuery

logger = logging.getLogger(__name__)

# Events read into a trigger's burst per look; more are read at the next look, at once.
EVENTS_PER_LOOK = 1000
HOUR = timedelta(hours=1)
# How long stopping the worker may wait for it at most.
STOP_CHECK_SECONDS = 0.25
# After an event's wake-up, the wait for more before looking: a look follows every
# commit otherwise, tens a second under ingest, for bursts that are debounced for
# seconds anyway.
GATHER_SECONDS = 0.2


def loop_guard_reason(*, cap: int, recent: int, due: int) -> str:
    return (
        f"Disabled by the loop guard: it would have started {recent + due} runs within an "
        f"hour ({recent} already, {due} due now), more than its max_runs_per_hour of {cap}. "
        "Does the service write the events the trigger listens to? Change the query (or "
        "raise max_runs_per_hour) and enable it again."
    )


def read_events(session: Session, trigger: EventTrigger, *, newest: int) -> bool:
    """Add the matching events after the trigger's cursor to its burst; True if more may
    be waiting (a full page was read).

    `newest` was read before in this transaction: ids follow commit order, so every event
    up to it is visible now, and a page shorter than asked for has seen all of them;
    the cursor then moves past the events that did not match too.
    """
    query = EventQuery.model_validate(trigger.query)
    page = events_store.events_after(
        session, query, after=trigger.last_event_id, limit=EVENTS_PER_LOOK
    )
    if page:
        events = [Event(id=e.id, time=e.time, meta=e.meta) for e in page]
        trigger.pending = add_events(trigger.pending, trigger.parameters, events)
        times = [event.time for event in events]
        trigger.burst_started_at = min([trigger.burst_started_at or times[0], *times])
        trigger.burst_last_event_at = max([trigger.burst_last_event_at or times[0], *times])
    full = len(page) == EVENTS_PER_LOOK
    last_read = page[-1].id if page else trigger.last_event_id
    trigger.last_event_id = last_read if full else max(last_read, newest)
    return full


def start_due_runs(
    session: Session, trigger: EventTrigger, *, now: datetime
) -> list[services_store.ClaimedRun]:
    """If the trigger's burst is due: one pending run per group, or, past the loop
    guard's cap, none and the trigger disabled. The burst is cleared either way."""
    due = is_due(
        started_at=trigger.burst_started_at,
        last_event_at=trigger.burst_last_event_at,
        debounce_seconds=trigger.debounce_seconds,
        max_wait_seconds=trigger.max_wait_seconds,
        now=now,
    )
    if not due:
        return []
    groups = groups_of(trigger.pending)
    trigger.pending, trigger.burst_started_at, trigger.burst_last_event_at = {}, None, None
    recent = _runs_since(session, trigger, now - HOUR)
    if recent + len(groups) > trigger.max_runs_per_hour:
        trigger.enabled = False
        trigger.disabled_reason = loop_guard_reason(
            cap=trigger.max_runs_per_hour, recent=recent, due=len(groups)
        )
        logger.warning("Trigger %r: %s", trigger.name, trigger.disabled_reason)
        return []
    service = session.get_one(Service, trigger.service_id)
    set_parameters = None
    if trigger.parameter_set_id is not None:
        set_parameters = session.get_one(ServiceParameterSet, trigger.parameter_set_id).parameters
    claimed = []
    for group in groups:
        target = services_store.RunTarget(
            service_id=service.id,
            url=service.url,
            http_method=service.http_method.value,
            parameter_set_id=trigger.parameter_set_id,
            parameters=set_parameters
            if trigger.parameters is None
            else fill(trigger.parameters, group.meta),
        )
        run = services_store.start_run(
            session,
            target=target,
            timestamp=now,
            trigger_id=trigger.id,
            trigger_event_ids=group.event_ids,
        )
        claimed.append(services_store.ClaimedRun(run_id=run.id, target=target))
        trigger.last_run_id, trigger.last_run_at = run.id, now
    return claimed


def _runs_since(session: Session, trigger: EventTrigger, since: datetime) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(ServiceRunLog)
        .where(ServiceRunLog.trigger_id == trigger.id, ServiceRunLog.timestamp > since)
    )
    return int(count or 0)


@dataclass(frozen=True)
class Look:
    """What a look did: the runs it logged, whether more may be waiting at once, and when
    the next waiting burst falls due (None: no burst waits)."""

    claimed: list[services_store.ClaimedRun]
    more: bool
    now: datetime
    next_due: datetime | None


def look(session: Session, *, now: datetime | None = None, limit: int = 100) -> Look:
    """Claim the triggers with something to do, read their events and start their due
    runs.

    A trigger that fails (e.g. its service was deleted meanwhile) is rolled back alone, to
    its savepoint, and logged; the others go on.
    """
    # Most backends have no trigger: a wake-up (every commit) then costs one statement.
    clock, any_enabled = session.execute(
        select(func.clock_timestamp(), exists().where(EventTrigger.enabled.is_(True)))
    ).one()
    now = clock if now is None else now
    if not any_enabled:
        return Look(claimed=[], more=False, now=now, next_due=None)
    newest = events_store.newest_id(session)
    due_at = func.least(
        EventTrigger.burst_last_event_at + _seconds(EventTrigger.debounce_seconds),
        EventTrigger.burst_started_at + _seconds(EventTrigger.max_wait_seconds),
    )
    triggers = session.scalars(
        select(EventTrigger)
        .where(
            EventTrigger.enabled.is_(True), or_(EventTrigger.last_event_id < newest, due_at <= now)
        )
        # The least recently changed first: every trigger has its turn.
        .order_by(func.coalesce(EventTrigger.time_updated, EventTrigger.time_created))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed: list[services_store.ClaimedRun] = []
    more = len(triggers) == limit
    for trigger in triggers:
        try:
            with session.begin_nested():
                more = read_events(session, trigger, newest=newest) or more
                claimed += start_due_runs(session, trigger, now=now)
        except Exception:
            logger.exception("Trigger %r failed; it is looked at again soon", trigger.name)
    next_due = session.scalar(select(func.min(due_at)).where(EventTrigger.enabled.is_(True)))
    return Look(claimed=claimed, more=more, now=now, next_due=next_due)


def _seconds(column: ColumnExpressionArgument[float]) -> ColumnElement[timedelta]:
    interval: ColumnElement[timedelta] = func.make_interval(0, 0, 0, 0, 0, 0, column)
    return interval


class TriggerWorker:
    """Looks at the triggers in a thread of its own: when events commit (woken by
    `notifications`, the process's LISTEN connection), when the next waiting burst falls
    due, at least every `interval_seconds`, and at once again while more is waiting."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        runs: BackgroundRuns,
        notifications: Notifications | None = None,
        *,
        interval_seconds: float = 1.0,
        batch_size: int = 100,
    ) -> None:
        self.session_factory = session_factory
        self.runs = runs
        self.notifications = notifications
        self.interval_seconds = interval_seconds
        self.batch_size = batch_size
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, now: datetime | None = None) -> list[Future[caller.CallOutcome]]:
        """Look once (`now`: the database's clock unless given); the runs started."""
        return self._look(now)[0]

    def _look(self, now: datetime | None) -> tuple[list[Future[caller.CallOutcome]], float]:
        """Look once; the runs started and how long to wait before the next look."""
        with self.session_factory.begin() as session:
            done = look(session, now=now, limit=self.batch_size)
        futures = [self.runs.submit(run) for run in done.claimed]
        if done.more:
            return futures, 0.0
        wait = self.interval_seconds
        if done.next_due is not None and done.next_due > done.now:
            wait = min(wait, (done.next_due - done.now).total_seconds())
        return futures, wait

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dtbase-triggers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _run(self) -> None:
        while not self._stop.is_set():
            # Taken before the look: an event committed during it wakes the next wait.
            seen = self.notifications.count if self.notifications is not None else 0
            try:
                wait = self._look(None)[1]
            except Exception:
                # The database may be unreachable for a moment.
                logger.exception(
                    "Looking at the triggers failed; again in %s s", self.interval_seconds
                )
                wait = self.interval_seconds
            self._wait(wait, seen)

    def _wait(self, seconds: float, seen: int) -> None:
        """Until `seconds` pass, an event commits (after `seen`) or `stop()`; in short
        slices, so that stopping does not wait for a long quiet time."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if self.notifications is None:
                self._stop.wait(left)
            elif self.notifications.wait(min(left, STOP_CHECK_SECONDS), after=seen):
                # More commits follow under load: one look for them all.
                self._stop.wait(GATHER_SECONDS)
                return
