"""/events/subscriptions: webhooks that receive the events of a query (docs/events.md,
"Webhooks").

Only admins create, change or delete subscriptions: a subscription makes the backend send
requests to a URL (the SSRF surface), which must also be on DT_WEBHOOK_URL_ALLOWLIST. Any
logged-in user may list them and read their delivery logs, as they may read the events
themselves: never with their secrets, and with keys in URLs masked for all but admins.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from dtbase.backend.auth.deps import Admin, CurrentUser
from dtbase.backend.db import SessionDep
from dtbase.backend.errors import InvalidInput
from dtbase.backend.events import subscriptions as store
from dtbase.backend.events.subscriptions_tables import EventDelivery, EventSubscription
from dtbase.backend.events.webhooks_delivery import Deliverer
from dtbase.backend.routing import documented, protected_router
from dtbase.backend.services.allowlist import UrlNotAllowed
from dtbase.backend.services.masking import mask_url
from dtbase.schemas.common import Msg, utc_now
from dtbase.schemas.events import EventQuery
from dtbase.schemas.subscriptions import (
    CreateSubscriptionRequest,
    Delivery,
    DeliveryLogRequest,
    EditSubscriptionRequest,
    RotateSecretRequest,
    Subscription,
    SubscriptionEnabled,
    SubscriptionNameRequest,
    SubscriptionSecret,
)
from dtbase.schemas.users import Role

router: APIRouter = protected_router(prefix="/events/subscriptions", tags=["events"])

URL_REFUSED = "The URL is not one the backend may send webhooks to (the answer says why)."


def _check_url(request: Request, url: str | None) -> None:
    """400 unless the backend may send webhooks to `url`."""
    if url is None:
        return
    deliverer: Deliverer = request.app.state.webhook_deliverer
    try:
        deliverer.policy.call.allowlist.check_registration(url)
    except UrlNotAllowed as refusal:
        raise InvalidInput(str(refusal)) from refusal


@router.post(
    "/create",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionSecret,
    responses=documented({400: URL_REFUSED, 409: store.SUBSCRIPTION_EXISTS}),
)
def create_subscription(
    body: CreateSubscriptionRequest, request: Request, session: SessionDep, user: Admin
) -> SubscriptionSecret:
    """Subscribe a URL to the events of a query (admins only). The answer holds the
    secret that signs its requests: it is never shown again (see `rotate-secret`)."""
    _check_url(request, body.url)
    secret = body.secret or store.new_secret()
    store.create(
        session,
        name=body.name,
        url=body.url,
        query=body.query,
        secret=secret,
        after=body.after,
        created_by=user.id,
        now=utc_now(),
    )
    return SubscriptionSecret(detail="Subscription created.", name=body.name, secret=secret)


@router.post("/list", response_model=list[Subscription])
def list_subscriptions(session: SessionDep, user: CurrentUser) -> list[Subscription]:
    """Every subscription, oldest first, without secrets."""
    show_url = (lambda url: url) if user.role == Role.admin else mask_url
    return [
        _listed(subscription, email, show_url(subscription.url))
        for subscription, email in store.list_all(session)
    ]


def _listed(subscription: EventSubscription, email: str | None, url: str) -> Subscription:
    return Subscription(
        id=subscription.id,
        name=subscription.name,
        url=url,
        query=EventQuery.model_validate(subscription.query),
        enabled=subscription.enabled,
        disabled_reason=subscription.disabled_reason,
        last_event_id=subscription.last_event_id,
        consecutive_failures=subscription.consecutive_failures,
        next_attempt_at=subscription.next_attempt_at,
        last_success_at=subscription.last_success_at,
        last_failure_at=subscription.last_failure_at,
        last_failure_reason=subscription.last_failure_reason,
        created_by=email,
        time_created=subscription.time_created,
        time_updated=subscription.time_updated,
    )


@router.post(
    "/edit",
    response_model=Msg,
    responses=documented(
        {400: f"{store.NO_SUBSCRIPTION} Or: {URL_REFUSED}", 409: store.SUBSCRIPTION_EXISTS}
    ),
)
def edit_subscription(
    body: EditSubscriptionRequest, request: Request, session: SessionDep, _: Admin
) -> Msg:
    """Rename a subscription, or change its URL or query (admins only); omitted fields
    stay. The cursor stays: a new query applies to the events not yet delivered."""
    _check_url(request, body.url)
    store.edit(
        session,
        name=body.name,
        new_name=body.new_name,
        url=body.url,
        query=body.query,
        now=utc_now(),
    )
    return Msg(detail="Subscription edited.")


@router.post(
    "/enable",
    response_model=SubscriptionEnabled,
    responses=documented({400: store.NO_SUBSCRIPTION}),
)
def enable_subscription(
    body: SubscriptionNameRequest, session: SessionDep, _: Admin
) -> SubscriptionEnabled:
    """Deliver again, at once, from where deliveries stopped (admins only). Events pruned
    meanwhile (DT_EVENTS_RETENTION_DAYS) are skipped: the answer and the delivery log
    say how many."""
    skipped = store.enable(session, name=body.name, now=utc_now())[1]
    if skipped is None:
        return SubscriptionEnabled(detail="Subscription enabled.")
    return SubscriptionEnabled(
        detail=f"Subscription enabled. {skipped.warning}",
        skipped_events=skipped.count,
        warning=skipped.warning,
    )


@router.post("/disable", response_model=Msg, responses=documented({400: store.NO_SUBSCRIPTION}))
def disable_subscription(body: SubscriptionNameRequest, session: SessionDep, user: Admin) -> Msg:
    """Stop delivering (admins only); events keep coming after the cursor, and `enable`
    delivers them, as long as they are kept (DT_EVENTS_RETENTION_DAYS)."""
    store.disable(session, name=body.name, reason=f"Disabled by {user.email}.")
    return Msg(detail="Subscription disabled.")


@router.post(
    "/rotate-secret",
    response_model=SubscriptionSecret,
    responses=documented({400: store.NO_SUBSCRIPTION}),
)
def rotate_secret(body: RotateSecretRequest, session: SessionDep, _: Admin) -> SubscriptionSecret:
    """Replace the secret (admins only); the answer is the only place it is shown.
    Requests sent from now on are signed with it."""
    secret = body.secret or store.new_secret()
    store.rotate_secret(session, name=body.name, secret=secret)
    return SubscriptionSecret(detail="Secret replaced.", name=body.name, secret=secret)


@router.post("/delete", response_model=Msg, responses=documented({400: store.NO_SUBSCRIPTION}))
def delete_subscription(body: SubscriptionNameRequest, session: SessionDep, _: Admin) -> Msg:
    """Delete a subscription with its delivery log (admins only)."""
    store.delete_subscription(session, name=body.name)
    return Msg(detail="Subscription deleted.")


@router.post(
    "/delivery-log",
    response_model=list[Delivery],
    responses=documented({400: store.NO_SUBSCRIPTION}),
)
def delivery_log(body: DeliveryLogRequest, session: SessionDep, _: CurrentUser) -> list[Delivery]:
    """The newest delivery attempts of a subscription, newest first."""
    return [_delivery(row) for row in store.delivery_log(session, name=body.name, limit=body.limit)]


def _delivery(row: EventDelivery) -> Delivery:
    attempt = store.Attempt(
        event_id=row.event_id,
        time=row.time,
        status_code=row.status_code,
        error=row.error,
        duration_seconds=row.duration_seconds,
    )
    warning = row.attempt == store.WARNING_ATTEMPT
    return Delivery(
        event_id=row.event_id,
        attempt=row.attempt,
        time=row.time,
        status_code=row.status_code,
        error=None if warning else row.error,
        duration_seconds=row.duration_seconds,
        succeeded=attempt.succeeded,
        warning=row.error if warning else None,
    )
