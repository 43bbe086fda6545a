"""The /events/triggers endpoints: service runs started by events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from dtbase.client.resource import Resource
from dtbase.client.unset import UNSET, Unset, given
from dtbase.schemas.common import Msg
from dtbase.schemas.events import EventQuery
from dtbase.schemas.triggers import (
    CreateTriggerRequest,
    EditTriggerRequest,
    ListTriggersRequest,
    Trigger,
    TriggerName,
)


def _query(query: EventQuery | Mapping[str, Any]) -> EventQuery:
    return query if isinstance(query, EventQuery) else EventQuery.model_validate(dict(query))


class Triggers(Resource):
    """Run a service when events arrive (docs/events.md, "Triggers")."""

    def create_trigger(
        self,
        name: str,
        service_name: str,
        query: EventQuery | Mapping[str, Any],
        *,
        parameter_set_name: str | None = None,
        parameters: dict[str, Any] | list[Any] | None = None,
        debounce_seconds: float = 10.0,
        max_wait_seconds: float | None = None,
        max_runs_per_hour: int | None = None,
        enabled: bool = True,
    ) -> Msg:
        """A trigger: `query` as an `EventQuery` or a dict (`{"kind": "readings.stored",
        "sensor": ["A", "B"]}`); `parameters` a template (`{"sensors": "{sensor}"}`) or a
        parameter set, not both."""
        body = CreateTriggerRequest(
            name=name,
            service_name=service_name,
            query=_query(query),
            parameter_set_name=parameter_set_name,
            parameters=parameters,
            debounce_seconds=debounce_seconds,
            max_wait_seconds=max_wait_seconds,
            max_runs_per_hour=max_runs_per_hour,
            enabled=enabled,
        )
        return self._client.post("/events/triggers/create", _dump(body), Msg)

    def list_triggers(self, service_name: str | None = None) -> list[Trigger]:
        body = ListTriggersRequest(service_name=service_name)
        return self._client.post("/events/triggers/list", _dump(body), list[Trigger])

    def edit_trigger(
        self,
        name: str,
        *,
        new_name: str | Unset = UNSET,
        query: EventQuery | Mapping[str, Any] | Unset = UNSET,
        parameter_set_name: str | Unset | None = UNSET,
        parameters: dict[str, Any] | list[Any] | Unset | None = UNSET,
        debounce_seconds: float | Unset = UNSET,
        max_wait_seconds: float | Unset = UNSET,
        max_runs_per_hour: int | Unset = UNSET,
    ) -> Msg:
        """Change the fields given; the others stay. None clears the parameters or the
        parameter set; giving one replaces the other."""
        changes = given(
            new_name=new_name,
            query=query if isinstance(query, Unset) else _query(query),
            parameter_set_name=parameter_set_name,
            parameters=parameters,
            debounce_seconds=debounce_seconds,
            max_wait_seconds=max_wait_seconds,
            max_runs_per_hour=max_runs_per_hour,
        )
        body = EditTriggerRequest(name=name, **changes)
        fields = body.model_dump(mode="json", exclude_unset=True)
        if "query" in fields:
            fields["query"] = body.query.model_dump(mode="json", exclude_none=True)  # type: ignore[union-attr]
        return self._client.post("/events/triggers/edit", fields, Msg)

    def enable_trigger(self, name: str) -> Msg:
        return self._client.post("/events/triggers/enable", _dump(TriggerName(name=name)), Msg)

    def disable_trigger(self, name: str) -> Msg:
        return self._client.post("/events/triggers/disable", _dump(TriggerName(name=name)), Msg)

    def delete_trigger(self, name: str) -> Msg:
        return self._client.post("/events/triggers/delete", _dump(TriggerName(name=name)), Msg)


def _dump(body: BaseModel) -> Any:
    """The request as JSON, without the optional fields left as None."""
    return body.model_dump(mode="json", exclude_none=True)
