"""Reading events: by cursor (`id > after`, in id order, which is commit order)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
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
    return [
        EventOut(id=id_, time=time, kind=EventKind(kind), meta=meta)
        for id_, time, kind, meta in rows
    ]


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
