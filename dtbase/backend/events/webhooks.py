"""What one webhook request is: an event as a CloudEvent 1.0 in structured JSON mode
(`dtbase.schemas.cloudevents`), signed as Stripe signs (an HMAC-SHA256 of
"<unix time>.<raw body>" with the subscription's secret), so that a receiver can check
who sent it and when.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from dtbase.schemas.cloudevents import structured
from dtbase.schemas.events import EventOut

SIGNATURE_HEADER = "X-Dtbase-Signature"
SUBSCRIPTION_HEADER = "X-Dtbase-Subscription"


def body_of(event: EventOut, *, source: str) -> tuple[dict[str, str], bytes]:
    """The CloudEvent's headers and body: the same for every subscription, so a
    deliverer makes them once per event and `signed` them for each."""
    return structured(event, source=source)


def signed(
    cloud_event: tuple[dict[str, str], bytes], subscription_id: int, secret: str, now: datetime
) -> tuple[dict[str, str], bytes]:
    """The headers and body of the POST that delivers a CloudEvent (`body_of`) to one
    subscription."""
    cloud_headers, body = cloud_event
    timestamp = int(now.timestamp())
    headers = {
        **cloud_headers,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        SUBSCRIPTION_HEADER: str(subscription_id),
        "User-Agent": "dtbase-webhooks",
    }
    return headers, body


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the time is signed with the
    body, so a receiver that refuses old times refuses replays."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
