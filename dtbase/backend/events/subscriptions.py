"""Queries on webhook subscriptions and their delivery log. Functions flush, never commit.

The deliverers' side, a round at a time: `claim_round` takes the subscriptions that have
something to deliver (`FOR UPDATE SKIP LOCKED`, so each is delivered by one deliverer at
a time), `pages_after` reads their events, `after_round` works out what came of each
one's attempts, and `save_round` writes it in the same transaction.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dtbase.backend.errors import AlreadyExists, InvalidInput, Unprocessable
from dtbase.backend.events import store as events_store
from dtbase.backend.events.subscriptions_tables import EventDelivery, EventSubscription
from dtbase.backend.events.tables import Event
from dtbase.backend.users.tables import User
from dtbase.schemas.events import EventKind, EventOut, EventQuery
from dtbase.schemas.subscriptions import DELIVERY_LOG_KEPT

NO_SUBSCRIPTION = "Subscription does not exist."
# A delivery-log entry with this attempt number is a warning, not an attempt.
WARNING_ATTEMPT = 0
SUBSCRIPTION_EXISTS = "Subscription already exists."


def new_secret() -> str:
    """32 random bytes, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def find(session: Session, *, name: str) -> EventSubscription | None:
    return session.scalars(
        select(EventSubscription).where(EventSubscription.name == name)
    ).one_or_none()


def get(session: Session, *, name: str) -> EventSubscription:
    subscription = find(session, name=name)
    if subscription is None:
        raise InvalidInput(NO_SUBSCRIPTION)
    return subscription


def list_all(session: Session) -> Sequence[tuple[EventSubscription, str | None]]:
    """Every subscription, oldest first, with its creator's email."""
    rows = session.execute(
        select(EventSubscription, User.email)
        .outerjoin(User, User.id == EventSubscription.created_by)
        .order_by(EventSubscription.id)
    )
    return [(subscription, email) for subscription, email in rows]


def create(
    session: Session,
    *,
    name: str,
    url: str,
    query: EventQuery,
    secret: str,
    after: int | None,
    created_by: int,
    now: datetime,
) -> EventSubscription:
    """A subscription delivering the events after `after` (None: after the newest)."""
    newest = events_store.newest_id(session)
    if after is not None and after > newest:
        raise Unprocessable(
            ["after"], f"No event has the id {after} yet: the newest is {newest}.", after
        )
    # Never before what is gone already: nothing there to deliver, nor to warn about.
    start = max(newest if after is None else after, _gone_through(session))
    subscription = EventSubscription(
        name=name,
        url=url,
        query=stored(query),
        secret=secret,
        enabled=True,
        last_event_id=start,
        consecutive_failures=0,
        next_attempt_at=now,
        created_by=created_by,
    )
    try:
        with session.begin_nested():
            session.add(subscription)
    except IntegrityError as error:
        raise AlreadyExists(SUBSCRIPTION_EXISTS) from error
    return subscription


def _gone_through(session: Session) -> int:
    """Event ids up to this one are no longer kept (pruned, or never committed): the
    oldest kept event's less one; when none is kept, the last id drawn."""
    oldest = session.scalar(select(func.min(Event.id)))
    if oldest is not None:
        return int(oldest) - 1
    drawn = session.scalar(
        text("SELECT pg_sequence_last_value(pg_get_serial_sequence('event', 'id'))")
    )
    return int(drawn or 0)


def stored(query: EventQuery) -> dict[str, object]:
    return query.model_dump(mode="json", exclude_none=True)


def edit(
    session: Session,
    *,
    name: str,
    new_name: str | None,
    url: str | None,
    query: EventQuery | None,
    now: datetime,
) -> EventSubscription:
    """Change what is given. A new URL is tried at once, with a clean failure count."""
    subscription = get(session, name=name)
    try:
        with session.begin_nested():
            if new_name is not None:
                subscription.name = new_name
            if query is not None:
                subscription.query = stored(query)
            if url is not None and url != subscription.url:
                subscription.url = url
                subscription.consecutive_failures = 0
                subscription.next_attempt_at = now
    except IntegrityError as error:
        raise AlreadyExists(SUBSCRIPTION_EXISTS) from error
    return subscription


def enable(
    session: Session, *, name: str, now: datetime
) -> tuple[EventSubscription, Skipped | None]:
    """Deliver again from the cursor, at once, with a clean failure count; and what was
    pruned since the cursor, skipped (see `skip_pruned`)."""
    subscription = get(session, name=name)
    subscription.enabled = True
    subscription.disabled_reason = None
    subscription.consecutive_failures = 0
    subscription.next_attempt_at = now
    skipped = skip_pruned(session, subscription, now=now)
    session.flush()
    return subscription, skipped


def disable(session: Session, *, name: str, reason: str) -> EventSubscription:
    subscription = get(session, name=name)
    subscription.enabled = False
    subscription.disabled_reason = reason
    session.flush()
    return subscription


def rotate_secret(session: Session, *, name: str, secret: str) -> EventSubscription:
    subscription = get(session, name=name)
    subscription.secret = secret
    session.flush()
    return subscription


def delete_subscription(session: Session, *, name: str) -> None:
    """Delete a subscription with its delivery log."""
    session.delete(get(session, name=name))
    session.flush()


def delivery_log(session: Session, *, name: str, limit: int) -> Sequence[EventDelivery]:
    """The newest attempts first."""
    subscription = get(session, name=name)
    return session.scalars(
        select(EventDelivery)
        .where(EventDelivery.subscription_id == subscription.id)
        .order_by(EventDelivery.id.desc())
        .limit(limit)
    ).all()


# --- delivery ------------------------------------------------------------------------
# The deliverers work in rounds (`webhooks_delivery`): a round claims many subscriptions,
# reads their events, and writes what came of it, in a few statements whatever the number
# of subscriptions, and without ORM objects (loading and flushing them cost more than
# the statements did).


@dataclass(frozen=True)
class Skipped:
    """Event ids after a subscription's cursor that are no longer kept: pruned after
    DT_EVENTS_RETENTION_DAYS before they were delivered."""

    first_id: int
    last_id: int

    @classmethod
    def after(cls, cursor: int, oldest: int | None) -> Skipped | None:
        """What is gone after `cursor`, given the oldest event kept; None: nothing."""
        if oldest is None or oldest <= cursor + 1:
            return None
        return cls(first_id=cursor + 1, last_id=oldest - 1)

    @property
    def count(self) -> int:
        """At most this many events: ids of rolled-back writes are never events."""
        return self.last_id - self.first_id + 1

    @property
    def warning(self) -> str:
        ids = (
            f"event {self.first_id} was"
            if self.count == 1
            else f"events {self.first_id} to {self.last_id} were"
        )
        events = "1 event" if self.count == 1 else f"{self.count} events"
        return (
            f"Skipped up to {events}: {ids} deleted after the retention "
            "(DT_EVENTS_RETENTION_DAYS) before they could be delivered, matching or not. "
            f"Delivery goes on with event {self.last_id + 1}."
        )

    def logged(self, subscription_id: int, now: datetime) -> Logged:
        """The delivery-log entry that says so (attempt 0, the last id skipped)."""
        return Logged(
            subscription_id=subscription_id,
            event_id=self.last_id,
            attempt=WARNING_ATTEMPT,
            time=now,
            status_code=None,
            error=self.warning,
            duration_seconds=0.0,
        )


def skip_pruned(
    session: Session, subscription: EventSubscription, *, now: datetime
) -> Skipped | None:
    """When events after the cursor were pruned, say so: a warning in the delivery log
    (attempt 0), and the cursor moved past them, so that it is said once."""
    oldest = session.scalar(select(func.min(Event.id)))
    skipped = Skipped.after(subscription.last_event_id, oldest)
    if skipped is None:
        return None
    log_attempts(session, [skipped.logged(subscription.id, now)])
    subscription.last_event_id = skipped.last_id
    return skipped


@dataclass(frozen=True)
class Claimed:
    """A subscription claimed for a round: what the round needs of it."""

    id: int
    name: str
    url: str
    secret: str
    query: EventQuery
    last_event_id: int
    consecutive_failures: int


@dataclass(frozen=True)
class Round:
    """The subscriptions claimed together (perhaps none), and the events' ids when they
    were: every event up to `bound` (the newest) is visible, since ids follow commit
    order; `oldest` is the oldest kept (None: none is). `next_due`: the earliest retry
    still to come, if any."""

    subscriptions: list[Claimed]
    bound: int
    oldest: int | None
    next_due: datetime | None


# Enabled, due, and behind the newest event. A subscription in failure is claimed alone,
# before the healthy ones (its retry is due): a receiver that hangs then holds up no
# other. The healthy ones come together, those claimed longest ago first (a round sets
# `next_attempt_at` to its time), so that a busy one does not starve the rest. Each row is
# returned by the statement that locked it: a row another deliverer changed since this
# statement's snapshot is returned as it is now (as locked), not as the snapshot had it.
# One row comes back when none is claimed, with the time of the next retry: what a
# deliverer with nothing to do waits for.
_CLAIM = text(
    """
    WITH bound AS MATERIALIZED (
        SELECT coalesce(max(id), 0) AS newest, min(id) AS oldest, (
            SELECT min(next_attempt_at) FROM event_subscription
            WHERE enabled AND next_attempt_at > :now
        ) AS next_due
        FROM event
    ),
    failing AS (
        SELECT s.id, s.name, s.url, s.secret, s.query, s.last_event_id,
               s.consecutive_failures
        FROM event_subscription AS s, bound
        WHERE s.enabled AND s.next_attempt_at <= :now AND s.last_event_id < bound.newest
          AND s.consecutive_failures > 0
        ORDER BY s.next_attempt_at, s.id
        LIMIT 1
        FOR UPDATE OF s SKIP LOCKED
    ),
    healthy AS (
        SELECT s.id, s.name, s.url, s.secret, s.query, s.last_event_id,
               s.consecutive_failures
        FROM event_subscription AS s, bound
        WHERE s.enabled AND s.next_attempt_at <= :now AND s.last_event_id < bound.newest
          AND s.consecutive_failures = 0 AND NOT EXISTS (SELECT FROM failing)
        ORDER BY s.next_attempt_at, s.id
        LIMIT :limit
        FOR UPDATE OF s SKIP LOCKED
    )
    SELECT claimed.*, bound.newest, bound.oldest, bound.next_due
    FROM bound
    LEFT JOIN (SELECT * FROM failing UNION ALL SELECT * FROM healthy) AS claimed ON true
    """
)


def claim_round(session: Session, *, now: datetime, limit: int) -> Round:
    """Up to `limit` subscriptions with something due (or one in failure), locked
    (`FOR UPDATE SKIP LOCKED`) until the transaction ends, in one statement; none when
    none is due (or all that are are locked)."""
    rows = session.execute(_CLAIM, {"now": now, "limit": limit}).all()
    claimed = [
        Claimed(
            id=row.id,
            name=row.name,
            url=row.url,
            secret=row.secret,
            query=EventQuery.model_validate(row.query),
            last_event_id=row.last_event_id,
            consecutive_failures=row.consecutive_failures,
        )
        for row in rows
        if row.id is not None
    ]
    first = rows[0]
    return Round(claimed, bound=int(first.newest), oldest=first.oldest, next_due=first.next_due)


# Each cursor's page, one index range scan each: every event, matching or not (the
# deliverer filters with `query.matches`, as the live streams do).
_PAGES = text(
    """
    SELECT cursor.after, page.id, page.time, page.kind, page.meta
    FROM unnest(CAST(:cursors AS bigint[])) AS cursor(after)
    CROSS JOIN LATERAL (
        SELECT id, time, kind, meta FROM event
        WHERE event.id > cursor.after AND event.id <= :bound
        ORDER BY event.id
        LIMIT :limit
    ) AS page
    ORDER BY cursor.after, page.id
    """
)


def pages_after(
    session: Session, cursors: Iterable[int], *, bound: int, limit: int
) -> dict[int, list[EventOut]]:
    """For each cursor, the events after it up to `bound`, `limit` at most, in id order,
    in one statement; cursors shared by several subscriptions are read once, and an
    event in several pages is one object."""
    wanted = sorted(set(cursors))
    pages: dict[int, list[EventOut]] = {after: [] for after in wanted}
    built: dict[int, EventOut] = {}
    rows = session.execute(_PAGES, {"cursors": wanted, "bound": bound, "limit": limit})
    for after, id_, time, kind, meta in rows:
        event = built.get(id_)
        if event is None:
            # Built, not validated: the rows are what the outbox holds.
            event = built[id_] = EventOut.model_construct(
                id=id_, time=time.astimezone(UTC), kind=EventKind(kind), meta=meta
            )
        pages[after].append(event)
    return pages


@dataclass(frozen=True)
class Attempt:
    """What one POST of one event came to."""

    event_id: int
    time: datetime
    status_code: int | None
    error: str | None
    duration_seconds: float

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300

    @property
    def reason(self) -> str:
        """Why it failed, for the subscription's status."""
        return self.error or f"The receiver answered {self.status_code}."


@dataclass(frozen=True)
class Logged:
    """One delivery-log entry: an attempt, or a warning (attempt 0)."""

    subscription_id: int
    event_id: int
    attempt: int
    time: datetime
    status_code: int | None
    error: str | None
    duration_seconds: float


@dataclass(frozen=True)
class State:
    """A subscription's state after a round: None for a time or reason leaves the one
    it had; a `disabled_reason` disables it."""

    id: int
    last_event_id: int
    consecutive_failures: int
    next_attempt_at: datetime
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_failure_reason: str | None = None
    disabled_reason: str | None = None


def after_round(
    claimed: Claimed,
    attempts: Sequence[Attempt],
    *,
    cursor: int,
    now: datetime,
    retry: Backoff,
    max_failures: int,
) -> tuple[State, list[Logged]]:
    """What a round's attempts (in order; only the last may have failed) make of a
    subscription, with their log entries. A success resets the failure count; a failure
    puts the next try off (doubling), or disables the subscription after `max_failures`
    in a row. Otherwise it is last in line for the next round (`next_attempt_at` now)."""
    failures = claimed.consecutive_failures
    state = State(
        id=claimed.id, last_event_id=cursor, consecutive_failures=failures, next_attempt_at=now
    )
    logged = []
    for attempt in attempts:
        logged.append(
            Logged(
                subscription_id=claimed.id,
                event_id=attempt.event_id,
                attempt=failures + 1,
                time=attempt.time,
                status_code=attempt.status_code,
                error=attempt.error,
                duration_seconds=attempt.duration_seconds,
            )
        )
        if attempt.succeeded:
            failures = 0
            state = replace(state, consecutive_failures=0, last_success_at=attempt.time)
            continue
        failures += 1
        state = replace(
            state,
            consecutive_failures=failures,
            last_failure_at=attempt.time,
            last_failure_reason=attempt.reason,
            next_attempt_at=attempt.time + retry.delay(failures),
            disabled_reason=(
                f"Disabled after {failures} failed deliveries in a row; the last: {attempt.reason}"
                if failures >= max_failures
                else None
            ),
        )
    return state, logged


# The rows come as one JSON array of objects (orjson writes the dataclasses): one text
# parameter, where arrays per column cost psycopg's list dumper, in Python, per element
# (a tenth of a delivery round's CPU).
_LOGGED = """
    INSERT INTO event_delivery
        (subscription_id, event_id, attempt, time, status_code, error, duration_seconds)
    SELECT * FROM json_to_recordset(CAST(:logged AS json)) AS r(
        subscription_id integer, event_id bigint, attempt integer, time timestamptz,
        status_code integer, error text, duration_seconds double precision
    )
"""
_LOG = text(_LOGGED)


def log_attempts(session: Session, entries: Sequence[Logged]) -> None:
    """Every entry in one INSERT."""
    if entries:
        session.execute(_LOG, {"logged": orjson.dumps(entries).decode()})


# A round's log entries and states in one statement (an INSERT in a CTE runs whether or
# not it is read). Only constants are formatted in.
_SAVE = text(
    f"""
    WITH logged AS ({_LOGGED})
    UPDATE event_subscription AS s SET
        last_event_id = v.last_event_id,
        consecutive_failures = v.consecutive_failures,
        next_attempt_at = v.next_attempt_at,
        last_success_at = coalesce(v.last_success_at, s.last_success_at),
        last_failure_at = coalesce(v.last_failure_at, s.last_failure_at),
        last_failure_reason = coalesce(v.last_failure_reason, s.last_failure_reason),
        enabled = s.enabled AND v.disabled_reason IS NULL,
        disabled_reason = coalesce(v.disabled_reason, s.disabled_reason),
        time_updated = now()
    FROM json_to_recordset(CAST(:states AS json)) AS v(
        id integer, last_event_id bigint, consecutive_failures integer,
        next_attempt_at timestamptz, last_success_at timestamptz, last_failure_at timestamptz,
        last_failure_reason text, disabled_reason text
    )
    WHERE s.id = v.id
    """  # noqa: S608
)


def save_round(session: Session, states: Sequence[State], logged: Sequence[Logged]) -> None:
    """A round's outcome: every subscription's new state and every log entry, in one
    statement."""
    if states or logged:
        rows = {"states": orjson.dumps(states).decode(), "logged": orjson.dumps(logged).decode()}
        session.execute(_SAVE, rows)


# For each subscription, the id of its newest entry that is kept (none: fewer than
# KEPT); the older ones are deleted, one index range scan each.
_PRUNE_LOGS = text(
    """
    DELETE FROM event_delivery AS d
    USING (
        SELECT s.id, (
            SELECT e.id FROM event_delivery AS e WHERE e.subscription_id = s.id
            ORDER BY e.id DESC OFFSET :kept - 1 LIMIT 1
        ) AS oldest_kept
        FROM unnest(CAST(:ids AS integer[])) AS s(id)
    ) AS k
    WHERE d.subscription_id = k.id AND d.id < k.oldest_kept
    """
)


def prune_logs(session: Session, subscription_ids: Iterable[int]) -> int:
    """Keep the newest DELIVERY_LOG_KEPT entries of each subscription, in one DELETE;
    how many were deleted."""
    ids = sorted(set(subscription_ids))
    if not ids:
        return 0
    result = session.execute(_PRUNE_LOGS, {"ids": ids, "kept": DELIVERY_LOG_KEPT})
    return int(getattr(result, "rowcount", 0))


@dataclass(frozen=True)
class Backoff:
    """Exponential: `first_seconds` after the first failure, doubling, up to
    `max_seconds`; each wait is drawn between half and all of that (jitter), so that
    receivers back from an outage are not hit by every subscription at once."""

    first_seconds: float
    max_seconds: float

    def delay(self, failures: int) -> timedelta:
        ceiling = min(self.max_seconds, self.first_seconds * 2 ** min(failures - 1, 60))
        return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))  # noqa: S311
