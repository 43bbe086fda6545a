"""The event JSON that PostgreSQL writes (`store.event_json_after`, read by the list and
the stream) is the JSON `EventOut` gives: the same keys in the same order, the same
values, the time to the byte; only the spacing inside `meta` is jsonb's. And the client,
which builds events from it without validating them again, gets the same events."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.db import make_session_factory
from dtbase.backend.events import store
from dtbase.backend.events.tables import Event
from dtbase.client import Client
from dtbase.client import events as client_events
from dtbase.schemas.events import EventKind, EventOut, EventQuery

Sessions = sessionmaker[Session]
ALL = EventQuery()

# Each kind with its metadata as the writes record it (docs/events.md), and then what
# metadata could hold at its oddest.
EVENTS: list[tuple[EventKind, dict[str, Any]]] = [
    (
        EventKind.readings_stored,
        {
            "sensor": "lab-1",
            "sensor_type": "thermo-hygrometer",
            "measure": ["temperature", "humidity"],
            "first": "2026-12-05T10:00:00Z",
            "last": "2026-12-05T10:59:59.500000Z",
            "count": 3600,
        },
    ),
    (
        EventKind.model_run_stored,
        {
            "model": "Arima",
            "scenario": "baseline",
            "run": 17,
            "sensor": ["lab-1"],
            "measure": ["temperature mean", "temperature upper 95%"],
            "first": "2026-12-05T11:00:00Z",
            "last": "2026-12-07T11:00:00Z",
            "count": 96,
        },
    ),
    (
        EventKind.model_run_stored,
        {"model": "m", "scenario": None, "run": 1, "sensor": [], "measure": [], "count": 0},
    ),
    (
        EventKind.service_run_finished,
        {"service": "arima", "run": 4, "status": "succeeded", "parameter_set": None},
    ),
    (
        EventKind.service_run_finished,
        {"service": "fdb export", "run": 5, "status": "failed", "parameter_set": "nightly"},
    ),
    (EventKind.sensor_created, {"sensor": "lab-1", "sensor_type": "thermo-hygrometer"}),
    (EventKind.sensor_deleted, {"sensor": "lab-1", "sensor_type": "thermo-hygrometer"}),
    (EventKind.location_created, {"location": "12", "schema": "latlong"}),
    (EventKind.location_deleted, {"location": "12", "schema": "latlong"}),
    (EventKind.model_created, {"model": "Arima"}),
    (EventKind.model_deleted, {"model": "Arima"}),
    (EventKind.service_created, {"service": "arima"}),
    (EventKind.service_deleted, {"service": "arima"}),
    (
        EventKind.sensor_created,
        {
            "sensor": "Gewächshaus—Süd 温室 🌡️",
            "sensor_type": 'quote " backslash \\ slash / tab \t newline \n return \r',
            "control": "\x01\x08\x0c\x1f\x7f",
            "separators": "\u2028\u2029",
            "a much longer key than the others, to see jsonb's key order": ["x", "", "ÿ"],
            "": "the empty key",
            "big": 2**62,
            "negative": -1,
            "true": True,
            "false": False,
            "null": None,
            "empty list": [],
        },
    ),
    (EventKind.model_created, {}),
]

TIMES = [
    datetime(2026, 12, 5, 10, 0, 0, tzinfo=UTC),  # on the second: no fraction
    datetime(2026, 12, 5, 10, 0, 0, 100_000, tzinfo=UTC),  # trailing zeros kept
    datetime(2026, 12, 5, 10, 0, 0, 1, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
]


@pytest.fixture
def sessions(engine: Engine, clean_database: None) -> Sessions:
    return make_session_factory(engine)


def _store(sessions: Sessions, rows: list[dict[str, Any]]) -> None:
    with sessions.begin() as session:
        session.execute(insert(Event).values(rows))


def _compact(sql_json: str) -> str:
    """The SQL's JSON written out again without spaces, keys in the order read."""
    return json.dumps(json.loads(sql_json), ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Chatham", "America/St_Johns"])
def test_the_json_is_the_models_json(sessions: Sessions, zone: str) -> None:
    """Every kind, unicode, escapes, lists, nulls, each at every sort of time, whatever
    the session's time zone."""
    _store(
        sessions,
        [
            {"kind": kind.value, "meta": meta, "time": time}
            for time in TIMES
            for kind, meta in EVENTS
        ],
    )
    with sessions() as session:
        session.execute(text(f"SET TIME ZONE '{zone}'"))
        by_sql = store.event_json_after(session, ALL, after=0, limit=1000)
        by_model = store.events_after(session, ALL, after=0, limit=1000)

    assert len(by_sql) == len(by_model) == len(TIMES) * len(EVENTS)
    for sql, model in zip(by_sql, by_model, strict=True):
        assert EventOut.model_validate(model.model_dump()) == model  # built as validated
        expected = model.model_dump_json()
        assert _compact(sql.json) == expected
        assert (sql.id, sql.kind) == (model.id, model.kind.value)
        # What a client makes of it: the same event.
        assert EventOut.model_validate_json(sql.json) == model
        # Spaces only inside `meta`: the rest is byte for byte the model's.
        head = expected.partition(',"meta":')[0]
        assert sql.json.startswith(head + ',"meta":{')
        assert "\n" not in sql.json  # one SSE `data:` line
        assert "\r" not in sql.json


def test_times_to_the_byte(sessions: Sessions) -> None:
    _store(sessions, [{"kind": "model.created", "meta": {}, "time": time} for time in TIMES])
    with sessions() as session:
        times = [
            json.loads(event.json)["time"]
            for event in store.event_json_after(session, ALL, after=0, limit=10)
        ]
    assert times == [
        "2026-12-05T10:00:00Z",
        "2026-12-05T10:00:00.100000Z",
        "2026-12-05T10:00:00.000001Z",
        "1999-12-31T23:59:59.999999Z",
    ]


def test_the_list_answers_the_same_json(sessions: Sessions, admin: Any) -> None:
    """`GET /events/list` as a DTBase-style client reads it: every event, as the model
    gives it, and the cursor."""
    _store(sessions, [{"kind": kind.value, "meta": meta} for kind, meta in EVENTS])
    with sessions() as session:
        expected = store.events_after(session, ALL, after=0, limit=1000)

    answer = admin.get("/events/list", params={"limit": 1000})

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "events": [event.model_dump(mode="json") for event in expected],
        "last_id": expected[-1].id,
    }


def test_the_client_reads_the_events_the_model_gives(sessions: Sessions, client: Client) -> None:
    """`client.events` builds its events without validating them again: they are the
    events the backend's model makes of the rows, through the list and the stream."""
    _store(
        sessions,
        [
            {"kind": kind.value, "meta": meta, "time": time}
            for time in TIMES
            for kind, meta in EVENTS
        ],
    )
    with sessions() as session:
        expected = store.events_after(session, ALL, after=0, limit=1000)

    page = client.events.history(limit=1000)
    streamed = list(itertools.islice(client.events.stream(from_=0), len(expected)))

    for events in (page.events, streamed):
        assert [event.model_dump() for event in events] == [e.model_dump() for e in expected]
        assert [event.model_dump_json() for event in events] == [
            e.model_dump_json() for e in expected
        ]
        assert all(type(event.kind) is EventKind for event in events)
        assert all(event.time.utcoffset() == timedelta(0) for event in events)
    assert page.last_id == expected[-1].id


@pytest.mark.parametrize(
    "data",
    [
        b'{"id": 1, "time": "yesterday", "kind": "model.created", "meta": {}}',
        b'{"id": 1, "time": "2026-12-05T10:00:00Z", "kind": "model.nope", "meta": {}}',
        b'{"id": 1, "kind": "model.created", "meta": {}}',
        b"[1, 2]",
        b"not json",
    ],
)
def test_what_is_not_an_event_is_refused_as_validation_would(data: bytes) -> None:
    with pytest.raises(ValidationError):
        client_events._event(data)
    with pytest.raises(ValidationError):
        client_events._page(b'{"events": [' + data + b'], "last_id": 1}')
