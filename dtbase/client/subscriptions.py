from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from dtbase.client.resource import Resource
from dtbase.client.unset import UNSET, Unset, given
from dtbase.schemas.common import Msg
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


class Subscriptions(Resource):
    """The /events/subscriptions endpoints: webhooks (docs/events.md, "Webhooks")."""

    def create_subscription(
        self,
        name: str,
        url: str,
        query: EventQuery | dict[str, Any] | None = None,
        *,
        secret: str | None = None,
        after: int | None = None,
    ) -> SubscriptionSecret:
        """Subscribe `url` to the events of `query` (admins only). Keep the answer's
        secret: it is never shown again."""
        body = CreateSubscriptionRequest(
            name=name,
            url=url,
            query=_query(query) or EventQuery(),
            secret=secret,
            after=after,
        )
        return self._client.post("/events/subscriptions/create", _dump(body), SubscriptionSecret)

    def list_subscriptions(self) -> list[Subscription]:
        return self._client.post("/events/subscriptions/list", None, list[Subscription])

    def edit_subscription(
        self,
        name: str,
        *,
        new_name: str | Unset = UNSET,
        url: str | Unset = UNSET,
        query: EventQuery | dict[str, Any] | Unset = UNSET,
    ) -> Msg:
        """Change the fields given; the others stay."""
        fields = given(new_name=new_name, url=url)
        if not isinstance(query, Unset):
            fields["query"] = _query(query)
        body = EditSubscriptionRequest(name=name, **fields)
        return self._client.post("/events/subscriptions/edit", _dump(body), Msg)

    def enable_subscription(self, name: str) -> SubscriptionEnabled:
        """`warning` says when events were pruned before they could be delivered."""
        return self._client.post("/events/subscriptions/enable", _named(name), SubscriptionEnabled)

    def disable_subscription(self, name: str) -> Msg:
        return self._client.post("/events/subscriptions/disable", _named(name), Msg)

    def rotate_secret(self, name: str, secret: str | None = None) -> SubscriptionSecret:
        body = RotateSecretRequest(name=name, secret=secret)
        return self._client.post(
            "/events/subscriptions/rotate-secret", _dump(body), SubscriptionSecret
        )

    def delete_subscription(self, name: str) -> Msg:
        return self._client.post("/events/subscriptions/delete", _named(name), Msg)

    def delivery_log(self, name: str, limit: int = 100) -> list[Delivery]:
        """The newest delivery attempts, newest first."""
        body = DeliveryLogRequest(name=name, limit=limit)
        return self._client.post("/events/subscriptions/delivery-log", _dump(body), list[Delivery])


def _query(query: EventQuery | dict[str, Any] | None) -> EventQuery | None:
    if query is None or isinstance(query, EventQuery):
        return query
    return EventQuery.model_validate(query)


def _named(name: str) -> dict[str, Any]:
    return _dump(SubscriptionNameRequest(name=name))


def _dump(body: BaseModel) -> dict[str, Any]:
    dumped: dict[str, Any] = body.model_dump(mode="json", exclude_none=True)
    return dumped
