"""What one webhook request is: an event as a CloudEvent 1.0 in structured JSON mode,
signed as Stripe signs (an HMAC-SHA256 of "<unix time>.<raw body>" with the
subscription's secret), so that a receiver can check who sent it and when.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.v1.event import CloudEvent

from dtbase.schemas.events import EventOut

SIGNATURE_HEADER = "X-Dtbase-Signature"
SUBSCRIPTION_HEADER = "X-Dtbase-Subscription"
TYPE_PREFIX = "org.dtbase."
# The thing an event is about, by the first of these its metadata holds as one string
# (a model run's `sensor` is a list: its subject is the model).
SUBJECT_KEYS = ("sensor", "model", "service", "location")


def request_of(
    event: EventOut, *, source: str, subscription_id: int, secret: str, now: datetime
) -> tuple[dict[str, str], bytes]:
    """The headers and body of the POST that delivers `event`."""
    message = to_structured_event(cloud_event(event, source=source))
    timestamp = int(now.timestamp())
    headers = {
        **message.headers,
        SIGNATURE_HEADER: signature(secret, timestamp, message.body),
        SUBSCRIPTION_HEADER: str(subscription_id),
        "User-Agent": "dtbase-webhooks",
    }
    return headers, message.body


def cloud_event(event: EventOut, *, source: str) -> CloudEvent:
    attributes = {
        "id": str(event.id),
        "source": source,
        "type": f"{TYPE_PREFIX}{event.kind}",
        "time": event.time,
        "datacontenttype": "application/json",
    }
    subject = subject_of(event)
    if subject is not None:
        attributes["subject"] = subject
    return CloudEvent(attributes=attributes, data=event.model_dump(mode="json"))


def subject_of(event: EventOut) -> str | None:
    for key in SUBJECT_KEYS:
        value = event.meta.get(key)
        if isinstance(value, str):
            return value
    return None


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the time is signed with the
    body, so a receiver that refuses old times refuses replays."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
