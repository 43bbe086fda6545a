"""Wire models of /events/subscriptions: webhooks that receive the events of a query.

Requests refuse keys they do not know (422): a misspelt `querry` must not silently
subscribe to every event.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from dtbase.schemas.common import NAME_LENGTH, NOT_BLANK, URL_LENGTH, Msg, UtcDatetime
from dtbase.schemas.events import EventQuery
from dtbase.schemas.services import STORABLE

# A secret shorter than this is too easy to guess for an HMAC key (a generated one has
# 43 characters: 32 random bytes).
MIN_SECRET_LENGTH = 24
MAX_SECRET_LENGTH = 256
# At most this many entries of a subscription's delivery log are kept (the newest).
DELIVERY_LOG_KEPT = 200

Name = Annotated[str, Field(max_length=NAME_LENGTH), STORABLE]
SubscriptionName = Annotated[Name, NOT_BLANK]
Url = Annotated[
    str,
    Field(
        max_length=URL_LENGTH,
        description="http or https, on a host the backend's DT_WEBHOOK_URL_ALLOWLIST allows.",
    ),
    STORABLE,
]
Secret = Annotated[
    str,
    Field(
        min_length=MIN_SECRET_LENGTH,
        max_length=MAX_SECRET_LENGTH,
        description="The HMAC-SHA256 key of the signatures; left out, the backend makes one.",
    ),
    STORABLE,
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateSubscriptionRequest(_Request):
    name: SubscriptionName
    url: Url
    query: EventQuery = Field(
        default_factory=EventQuery,
        description="Which events to send (as `GET /events/list` takes them); none: all.",
    )
    secret: Secret | None = None
    after: int | None = Field(
        default=None,
        ge=0,
        description="Send the events with ids greater than this one (0: every event still "
        "kept). Left out: the newest event's id, so only events from now on are sent.",
    )


class EditSubscriptionRequest(_Request):
    """Change a subscription; the fields left out (or null) keep their value."""

    name: Name = Field(description="The subscription to change.")
    new_name: SubscriptionName | None = None
    url: Url | None = None
    query: EventQuery | None = Field(
        default=None, description="Replaces the query; the cursor stays where it is."
    )


class SubscriptionNameRequest(_Request):
    name: Name


class RotateSecretRequest(_Request):
    name: Name
    secret: Secret | None = Field(
        default=None, description="The new secret; left out, the backend makes one."
    )


class DeliveryLogRequest(_Request):
    name: Name
    limit: int = Field(
        default=100, ge=1, le=DELIVERY_LOG_KEPT, description="The newest attempts, at most."
    )


class SubscriptionSecret(BaseModel):
    """The only answers that hold a subscription's secret: keep it, it is never listed."""

    detail: str
    name: str
    secret: str


class Subscription(BaseModel):
    """A subscription as listed (never with its secret)."""

    id: int = Field(description="Sent with each of its requests (X-Dtbase-Subscription).")
    name: str
    url: str = Field(description="Keys in it (`?code=`) are masked for all but admins.")
    query: EventQuery
    enabled: bool
    disabled_reason: str | None = Field(
        description="Why deliveries stopped: an admin disabled it, or too many failed."
    )
    last_event_id: int = Field(
        description="The cursor: events up to this id were delivered (or did not match)."
    )
    consecutive_failures: int
    next_attempt_at: UtcDatetime = Field(
        description="After a failure: when delivery is tried again (backoff)."
    )
    last_success_at: UtcDatetime | None
    last_failure_at: UtcDatetime | None
    last_failure_reason: str | None
    created_by: str | None = Field(description="The email of the admin who created it.")
    time_created: UtcDatetime
    time_updated: UtcDatetime | None


class Delivery(BaseModel):
    """One attempt to deliver one event (the newest DELIVERY_LOG_KEPT are kept), or a
    warning (attempt 0): events pruned before they could be delivered, skipped."""

    event_id: int = Field(description="The event tried; for a warning, the last skipped.")
    attempt: int = Field(
        description="1 for the first try of this event, then 2, 3, ...; 0: a warning."
    )
    time: UtcDatetime
    status_code: int | None = Field(description="The receiver's status; null if none came.")
    error: str | None = Field(description="Why it failed, when not by the receiver's status.")
    duration_seconds: float
    succeeded: bool
    warning: str | None = Field(
        default=None, description="Events skipped: pruned (retention) before delivery."
    )


class SubscriptionEnabled(Msg):
    """The answer of `enable`: events pruned while the subscription was behind are
    skipped, and said so."""

    skipped_events: int = Field(
        default=0, description="At most this many events were pruned before delivery."
    )
    warning: str | None = None
