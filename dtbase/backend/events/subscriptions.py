"""Queries on webhook subscriptions and their delivery log. Functions flush, never commit.

The deliverers' side: `claim_due` takes one subscription that has something to deliver
(`FOR UPDATE SKIP LOCKED`, so each is delivered by one deliverer at a time), and
`delivered` / `failed` record what came of its batch in the same transaction.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dtbase.backend.errors import AlreadyExists, InvalidInput, Unprocessable
from dtbase.backend.events import store as events_store
from dtbase.backend.events.subscriptions_tables import EventDelivery, EventSubscription
from dtbase.backend.events.tables import Event
from dtbase.backend.users.tables import User
from dtbase.schemas.events import EventQuery
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


@dataclass(frozen=True)
class Skipped:
    """Event ids after a subscription's cursor that are no longer kept: pruned after
    DT_EVENTS_RETENTION_DAYS before they were delivered."""

    first_id: int
    last_id: int

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


def skip_pruned(
    session: Session, subscription: EventSubscription, *, now: datetime
) -> Skipped | None:
    """When events after the cursor were pruned, say so: a warning in the delivery log
    (attempt 0), and the cursor moved past them, so that it is said once."""
    oldest = session.scalar(select(func.min(Event.id)))
    if oldest is None or oldest <= subscription.last_event_id + 1:
        return None
    skipped = Skipped(first_id=subscription.last_event_id + 1, last_id=oldest - 1)
    session.add(
        EventDelivery(
            subscription_id=subscription.id,
            event_id=skipped.last_id,
            attempt=WARNING_ATTEMPT,
            time=now,
            status_code=None,
            error=skipped.warning,
            duration_seconds=0.0,
        )
    )
    subscription.last_event_id = skipped.last_id
    return skipped


def claim_due(session: Session, *, now: datetime) -> EventSubscription | None:
    """One enabled subscription, due at `now`, whose cursor is behind the newest event,
    locked until the transaction ends; None when there is none (or all are locked).

    The one claimed longest ago comes first (each claim sets `next_attempt_at` to its
    time), so a busy subscription does not starve the others.
    """
    newest = select(func.max(Event.id)).scalar_subquery()
    return session.scalars(
        select(EventSubscription)
        .where(
            EventSubscription.enabled.is_(True),
            EventSubscription.next_attempt_at <= now,
            EventSubscription.last_event_id < newest,
        )
        .order_by(EventSubscription.next_attempt_at, EventSubscription.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).one_or_none()


def next_due(session: Session, *, now: datetime) -> datetime | None:
    """The earliest retry still to come (after a failure), if any."""
    return session.scalar(
        select(func.min(EventSubscription.next_attempt_at)).where(
            EventSubscription.enabled.is_(True), EventSubscription.next_attempt_at > now
        )
    )


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


def log(session: Session, subscription: EventSubscription, attempt: Attempt) -> None:
    session.add(
        EventDelivery(
            subscription_id=subscription.id,
            event_id=attempt.event_id,
            attempt=subscription.consecutive_failures + 1,
            time=attempt.time,
            status_code=attempt.status_code,
            error=attempt.error,
            duration_seconds=attempt.duration_seconds,
        )
    )


def delivered(subscription: EventSubscription, attempt: Attempt) -> None:
    """The receiver took the event: the cursor moves past it."""
    subscription.last_event_id = attempt.event_id
    subscription.consecutive_failures = 0
    subscription.last_success_at = attempt.time


def failed(
    subscription: EventSubscription, attempt: Attempt, *, retry: Backoff, max_failures: int
) -> None:
    """The cursor stays; the next try waits (doubling), or the subscription is disabled
    after `max_failures` in a row."""
    failures = subscription.consecutive_failures + 1
    subscription.consecutive_failures = failures
    subscription.last_failure_at = attempt.time
    subscription.last_failure_reason = attempt.reason
    subscription.next_attempt_at = attempt.time + retry.delay(failures)
    if failures >= max_failures:
        subscription.enabled = False
        subscription.disabled_reason = (
            f"Disabled after {failures} failed deliveries in a row; the last: {attempt.reason}"
        )


def prune_log(session: Session, subscription: EventSubscription) -> None:
    """Keep the newest DELIVERY_LOG_KEPT attempts of the subscription."""
    oldest_kept = (
        select(EventDelivery.id)
        .where(EventDelivery.subscription_id == subscription.id)
        .order_by(EventDelivery.id.desc())
        .offset(DELIVERY_LOG_KEPT - 1)
        .limit(1)
        .scalar_subquery()
    )
    # No ORM bookkeeping of the rows deleted (none is loaded): it cost more than the
    # DELETE, on every claim of every deliverer.
    session.execute(
        delete(EventDelivery)
        .where(EventDelivery.subscription_id == subscription.id, EventDelivery.id < oldest_kept)
        .execution_options(synchronize_session=False)
    )


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
