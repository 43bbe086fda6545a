"""Events: what the backend records when something is stored, and the query over them.

One query, two forms (`dtbase.backend.events.query`): in Python for live fan-out, in SQL
for history. The same query travels as GET parameters (`from_params`) and is stored as
JSON (`model_dump(exclude_none=True)`) by subscriptions and triggers.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from dtbase.schemas.common import UtcDatetime


class EventKind(StrEnum):
    readings_stored = "readings.stored"
    model_run_stored = "model_run.stored"
    service_run_finished = "service_run.finished"
    sensor_created = "sensor.created"
    sensor_deleted = "sensor.deleted"
    location_created = "location.created"
    location_deleted = "location.deleted"
    model_created = "model.created"
    model_deleted = "model.deleted"
    service_created = "service.created"
    service_deleted = "service.deleted"


def _as_list_of_strings(value: object) -> object:
    """One value or a list of them; numbers become strings (a location's id, given as a
    number, matches the string the event holds). Anything else is left to fail."""
    items = value if isinstance(value, list | tuple) else [value]
    return [
        str(item) if isinstance(item, int | float) and not isinstance(item, bool) else item
        for item in items
    ]


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain NUL characters (no stored name can)")
    return text


_Values = Annotated[
    list[Annotated[str, AfterValidator(_no_nul)]],
    BeforeValidator(_as_list_of_strings),
    Field(min_length=1),
]
_Kinds = Annotated[list[EventKind], BeforeValidator(_as_list_of_strings), Field(min_length=1)]


class EventQuery(BaseModel):
    """Which events: for every field given, the event's value (or any element of it, when
    it is a list) equals one of the field's values. No field given: every event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: _Kinds | None = None
    sensor: _Values | None = None
    sensor_type: _Values | None = None
    measure: _Values | None = None
    location: _Values | None = None
    model: _Values | None = None
    scenario: _Values | None = None
    service: _Values | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, list[str]]) -> EventQuery:
        """The query from GET parameters, a field repeated for a list
        (`?kind=readings.stored&sensor=a&sensor=b`). Raises pydantic's ValidationError
        for unknown keys or kinds."""
        return cls.model_validate(dict(params))

    def meta_fields(self) -> dict[str, list[str]]:
        """The fields given that compare with the event's metadata (all but `kind`)."""
        given = self.model_dump(exclude_none=True, exclude={"kind"})
        return {name: list(values) for name, values in given.items()}


class EventOut(BaseModel):
    """An event as every reader gets it: the list, the stream, a webhook's data."""

    id: int
    time: UtcDatetime
    kind: EventKind
    meta: dict[str, Any]


class EventPage(BaseModel):
    events: list[EventOut]
    last_id: int = Field(
        description="The last event's id, or `after` when there is none: the next page's `after`."
    )
