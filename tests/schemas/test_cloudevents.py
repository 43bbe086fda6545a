"""The one mapping of an event to a CloudEvent (webhooks and `dtbase events listen --post`):
structured JSON content mode, every attribute as a receiver reads it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from dtbase.schemas.cloudevents import structured
from dtbase.schemas.events import EventKind, EventOut

TIME = datetime(2026, 12, 5, 4, 10, 0, 123456, tzinfo=UTC)


def _event(kind: EventKind, **meta: object) -> EventOut:
    return EventOut.model_validate({"id": 1042, "time": TIME, "kind": kind, "meta": meta})


def test_an_event_is_a_structured_cloudevent_with_every_attribute() -> None:
    event = _event(
        EventKind.readings_stored,
        sensor="sensor-7",
        sensor_type="Weather",
        measure=["temperature"],
        count=60,
    )

    headers, body = structured(event, source="https://dt.example.org")

    assert headers == {"content-type": "application/cloudevents+json"}
    assert json.loads(body) == {
        "specversion": "1.0",
        "id": "1042",
        "source": "https://dt.example.org",
        "type": "org.dtbase.readings.stored",
        "time": "2026-12-05T04:10:00.123456Z",
        "subject": "sensor-7",
        "datacontenttype": "application/json",
        "data": {
            "id": 1042,
            "time": "2026-12-05T04:10:00.123456Z",
            "kind": "readings.stored",
            "meta": {
                "sensor": "sensor-7",
                "sensor_type": "Weather",
                "measure": ["temperature"],
                "count": 60,
            },
        },
    }


@pytest.mark.parametrize(
    ("kind", "meta", "subject"),
    [
        # A model run's sensor is a list: its subject is the model.
        (EventKind.model_run_stored, {"model": "Arima", "sensor": ["a", "b"]}, "Arima"),
        (EventKind.service_run_finished, {"service": "arima", "run": 3}, "arima"),
        (EventKind.location_created, {"location": "7", "schema": "xyz"}, "7"),
    ],
)
def test_the_subject_is_what_the_event_is_about(
    kind: EventKind, meta: dict[str, object], subject: str
) -> None:
    _, body = structured(_event(kind, **meta), source="dtbase")

    assert json.loads(body)["subject"] == subject


def test_an_event_about_nothing_named_has_no_subject() -> None:
    _, body = structured(_event(EventKind.model_run_stored, sensor=["a"]), source="dtbase")

    assert "subject" not in json.loads(body)
