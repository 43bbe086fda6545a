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
from concurrent.futures import Future
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, ColumnExpressionArgument, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.events import store as events_store
from dtbase.backend.events.triggers_burst import Event, add_events, fill, groups_of, is_due
from dtbase.backend.events.triggers_tables import EventTrigger
from dtbase.backend.periodic import Periodic
from dtbase.backend.services import caller
from dtbase.backend.services import store as services_store
from dtbase.backend.services.runs import BackgroundRuns
from dtbase.backend.services.tables import Service, ServiceParameterSet, ServiceRunLog
from dtbase.schemas.events import EventQuery

logger = logging.getLogger(__name__)

# Events read into a trigger's burst per look; more are read at the next look, at once.
EVENTS_PER_LOOK = 1000
HOUR = timedelta(hours=1)


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


def look(
    session: Session, *, now: datetime | None = None, limit: int = 100
) -> tuple[list[services_store.ClaimedRun], bool]:
    """Claim the triggers with something to do, read their events and start their due
    runs; the runs logged, and whether more may be waiting at once.

    A trigger that fails (e.g. its service was deleted meanwhile) is rolled back alone, to
    its savepoint, and logged; the others go on.
    """
    if now is None:
        now = session.scalar(select(func.clock_timestamp()))
        assert now is not None
    newest = events_store.newest_id(session)
    triggers = session.scalars(
        select(EventTrigger)
        .where(
            EventTrigger.enabled.is_(True),
            or_(
                EventTrigger.last_event_id < newest,
                EventTrigger.burst_last_event_at <= now - _seconds(EventTrigger.debounce_seconds),
                EventTrigger.burst_started_at <= now - _seconds(EventTrigger.max_wait_seconds),
            ),
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
    return claimed, more


def _seconds(column: ColumnExpressionArgument[float]) -> ColumnElement[timedelta]:
    interval: ColumnElement[timedelta] = func.make_interval(0, 0, 0, 0, 0, 0, column)
    return interval


class TriggerWorker:
    """Looks at the triggers every `interval_seconds` (at once again while there is more)
    and hands the runs it starts to `runs`."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        runs: BackgroundRuns,
        *,
        interval_seconds: float = 1.0,
        batch_size: int = 100,
    ) -> None:
        self.session_factory = session_factory
        self.runs = runs
        self.batch_size = batch_size
        self._periodic = Periodic("dtbase-triggers", self._look, interval_seconds=interval_seconds)

    def tick(self, now: datetime | None = None) -> list[Future[caller.CallOutcome]]:
        """Look once (`now`: the database's clock unless given); the runs started."""
        return self._tick(now)[0]

    def _tick(self, now: datetime | None) -> tuple[list[Future[caller.CallOutcome]], bool]:
        with self.session_factory.begin() as session:
            claimed, more = look(session, now=now, limit=self.batch_size)
        return [self.runs.submit(run) for run in claimed], more

    def _look(self) -> bool:
        return self._tick(None)[1]

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()

    @property
    def running(self) -> bool:
        return self._periodic.running
