"""An `EventQuery`'s meaning, in its two forms: `matches` in Python (live fan-out) and
`where` in SQL (history). A field's values match a string meta value equal to one of them,
or a list meta value with an element equal to one of them; nothing else (a number, a
null, a missing key) matches. `?|` means exactly that for a JSON string or array."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, true
from sqlalchemy.dialects.postgresql import array

from dtbase.backend.events.tables import Event
from dtbase.schemas.events import EventQuery


def matches(query: EventQuery, kind: str, meta: Mapping[str, Any]) -> bool:
    if query.kind is not None and kind not in query.kind:
        return False
    return all(
        _matches_value(meta.get(name), values) for name, values in query.meta_fields().items()
    )


def _matches_value(value: object, values: list[str]) -> bool:
    if isinstance(value, str):
        return value in values
    if isinstance(value, list):
        return any(isinstance(item, str) and item in values for item in value)
    return False


def where(query: EventQuery) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if query.kind is not None:
        conditions.append(Event.kind.in_([kind.value for kind in query.kind]))
    for name, values in query.meta_fields().items():
        conditions.append(Event.meta[name].has_any(array(values, type_=Text)))
    return and_(true(), *conditions)
