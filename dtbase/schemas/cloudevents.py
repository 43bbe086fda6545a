"""An event as a CloudEvent 1.0 in structured JSON mode: the body of every webhook and of
`dtbase events listen --post`.

Attributes: `id` the event's id, `source` who sends it, `type` `org.dtbase.<kind>`,
`time` the event's, `subject` what it is about (see SUBJECT_KEYS; left out when none),
`datacontenttype` JSON and `data` the event as `GET /events/list` returns it.

The `cloudevents` package takes a while to import: import this module only where an
event is sent as one.
"""

from __future__ import annotations

from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.v1.event import CloudEvent

from dtbase.schemas.events import EventOut

TYPE_PREFIX = "org.dtbase."
# The thing an event is about, by the first of these its metadata holds as one string
# (a model run's `sensor` is a list: its subject is the model).
SUBJECT_KEYS = ("sensor", "model", "service", "location")


def structured(event: EventOut, *, source: str) -> tuple[dict[str, str], bytes]:
    """The headers (`Content-Type: application/cloudevents+json`) and the body of a
    request carrying `event`."""
    attributes = {
        "id": str(event.id),
        "source": source,
        "type": f"{TYPE_PREFIX}{event.kind.value}",
        "time": event.time,
        "datacontenttype": "application/json",
    }
    subject = subject_of(event)
    if subject is not None:
        attributes["subject"] = subject
    message = to_structured_event(
        CloudEvent(attributes=attributes, data=event.model_dump(mode="json"))
    )
    return dict(message.headers), message.body


def subject_of(event: EventOut) -> str | None:
    for key in SUBJECT_KEYS:
        value = event.meta.get(key)
        if isinstance(value, str):
            return value
    return None
