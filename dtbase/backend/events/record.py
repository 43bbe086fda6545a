"""Recording events, in the transaction of the write they report.

Call it as the write's LAST statement: the first event a transaction inserts takes the
lock that keeps ids in commit order (migration 0015), held until the commit, so anything
after it lengthens the time other writers wait.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from dtbase.backend.events.tables import Event
from dtbase.schemas.events import EventKind


def record(session: Session, kind: EventKind, meta: Mapping[str, Any]) -> None:
    record_many(session, [(kind, meta)])


def record_many(session: Session, events: Sequence[tuple[EventKind, Mapping[str, Any]]]) -> None:
    """All `events` in one INSERT (the triggers run once per statement)."""
    if not events:
        return
    rows = [{"kind": kind.value, "meta": dict(meta)} for kind, meta in events]
    session.execute(insert(Event).values(rows))


def iso(time: datetime) -> str:
    """A time as events hold it: ISO 8601 in UTC with a `Z`, as on the wire."""
    return time.astimezone(UTC).isoformat().replace("+00:00", "Z")
