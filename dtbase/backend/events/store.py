"""Reading events: by cursor (`id > after`, in id order, which is commit order)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, func, literal_column, select
from sqlalchemy.orm import Session

from dtbase.backend.events.query import where
from dtbase.backend.events.tables import Event
from dtbase.schemas.events import EventKind, EventOut, EventQuery


def events_after(session: Session, query: EventQuery, *, after: int, limit: int) -> list[EventOut]:
    rows = session.execute(
        select(Event.id, Event.time, Event.kind, Event.meta)
        .where(Event.id > after, where(query))
        .order_by(Event.id)
        .limit(limit)
    )
    # Built, not validated: the rows are what the outbox holds (a kind, a jsonb object).
    return [
        EventOut.model_construct(id=id_, time=time.astimezone(UTC), kind=EventKind(kind), meta=meta)
        for id_, time, kind, meta in rows
    ]


class EventJson(NamedTuple):
    """An event as its JSON text, as every reader gets it (`EventOut` on the wire), with
    the id and kind that streams and their filters need beside it."""

    id: int
    kind: str
    json: str


# The event's JSON, written by PostgreSQL: a catch-up or a page of the list then costs
# Python next to no work per event (building and validating an `EventOut` and dumping it
# took ~25 µs an event; this ~4 µs in the database, fetch included, and ~1 in Python).
# The time as pydantic writes a UTC datetime: microseconds when there are any, and a
# `Z`. `meta` is jsonb's own text (its key order, a space after `:` and `,`): the same
# JSON as `EventOut.model_dump_json()` gives, differently spaced
# (tests/events/test_event_wire.py holds them equal).
_JSON: ColumnElement[str] = literal_column(
    """'{"id":' || event.id"""
    """ || ',"time":"' || to_char(event.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS'"""
    """ || CASE WHEN date_trunc('second', event.time) = event.time THEN '' ELSE '.US' END"""
    """ || '"Z"')"""
    """ || '","kind":' || to_json(event.kind)::text"""
    """ || ',"meta":' || event.meta::text || '}'"""
)


def event_json_after(
    session: Session, query: EventQuery, *, after: int, limit: int
) -> list[EventJson]:
    """`events_after`, as JSON text."""
    rows = session.execute(
        select(Event.id, Event.kind, _JSON)
        .where(Event.id > after, where(query))
        .order_by(Event.id)
        .limit(limit)
    )
    return [EventJson(id_, kind, json) for id_, kind, json in rows]


def first_id_since(session: Session, time: datetime) -> int:
    """The cursor that replays every event from `time` on: the greatest id of an event
    before `time`, or 0. (Under the commit-order lock, times grow with ids, so the newest
    event before `time` by the time index is also the greatest id before it.)"""
    before = session.scalar(
        select(Event.id)
        .where(Event.time < time)
        .order_by(Event.time.desc(), Event.id.desc())
        .limit(1)
    )
    return before or 0


def newest_id(session: Session) -> int:
    """The greatest id (0 when there is no event): the cursor for "from now on"."""
    return session.scalar(select(func.coalesce(func.max(Event.id), 0))) or 0
