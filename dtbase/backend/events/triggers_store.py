"""Queries on event triggers. Functions flush, never commit.

A new trigger starts at the newest event: it runs for what happens from then on. Disabling
drops the burst waiting to run; enabling starts again at the newest event (events while
it was disabled are not replayed, as a schedule does not replay missed times).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dtbase.backend.errors import InvalidInput, Unprocessable
from dtbase.backend.events import store as events_store
from dtbase.backend.events.query import matches
from dtbase.backend.events.triggers_burst import check_template
from dtbase.backend.events.triggers_tables import EventTrigger
from dtbase.backend.services import run_sources
from dtbase.backend.services import store as services_store
from dtbase.backend.services.masking import unmask
from dtbase.backend.services.tables import Service, ServiceParameterSet
from dtbase.core.unset import UNSET, Unset
from dtbase.schemas.events import EventKind, EventQuery
from dtbase.schemas.triggers import DEFAULT_MAX_WAIT_DEBOUNCES

NO_TRIGGER = "Trigger does not exist."
TRIGGER_EXISTS = "Trigger already exists."
LOOP = (
    "The query matches the service_run.finished events of the trigger's own service: each "
    "run would start the next, forever. Filter on another kind or service."
)


def _stored(query: EventQuery) -> dict[str, Any]:
    stored: dict[str, Any] = query.model_dump(mode="json", exclude_none=True)
    return stored


def _check(
    *, service_name: str, query: EventQuery, parameter_set_name: str | None, parameters: Any
) -> None:
    """422 for a trigger that would loop on its own runs, or whose template or parameters
    cannot be filled or stored."""
    if matches(query, EventKind("service_run.finished"), {"service": service_name}):
        raise Unprocessable(["query"], LOOP)
    run_sources.check_one_of(parameter_set_name, parameters)
    services_store.check_parameters(parameters)
    if parameters is not None:
        check_template(parameters, _stored(query))


def _max_wait(debounce_seconds: float, max_wait_seconds: float | None) -> float:
    if max_wait_seconds is None:
        return debounce_seconds * DEFAULT_MAX_WAIT_DEBOUNCES
    if max_wait_seconds < debounce_seconds:
        raise Unprocessable(
            ["max_wait_seconds"], "must be at least debounce_seconds", max_wait_seconds
        )
    return max_wait_seconds


def insert_trigger(
    session: Session,
    *,
    name: str,
    service_name: str,
    query: EventQuery,
    parameter_set_name: str | None,
    parameters: Any,
    debounce_seconds: float,
    max_wait_seconds: float | None,
    max_runs_per_hour: int,
    enabled: bool,
) -> EventTrigger:
    _check(
        service_name=service_name,
        query=query,
        parameter_set_name=parameter_set_name,
        parameters=parameters,
    )
    service = services_store.get_service(session, name=service_name)
    trigger = EventTrigger(
        name=name,
        service_id=service.id,
        query=_stored(query),
        parameter_set_id=services_store.parameter_set_id(
            session, service_name=service_name, name=parameter_set_name
        ),
        parameters=parameters,
        debounce_seconds=debounce_seconds,
        max_wait_seconds=_max_wait(debounce_seconds, max_wait_seconds),
        max_runs_per_hour=max_runs_per_hour,
        enabled=enabled,
        disabled_reason=None,
        last_event_id=events_store.newest_id(session),
        pending={},
    )
    run_sources.add(session, trigger, unique="uq_event_trigger_name", exists=TRIGGER_EXISTS)
    return trigger


def get_trigger(session: Session, *, name: str) -> EventTrigger:
    trigger = session.scalars(select(EventTrigger).where(EventTrigger.name == name)).one_or_none()
    if trigger is None:
        raise InvalidInput(NO_TRIGGER)
    return trigger


def list_triggers(
    session: Session, *, service_name: str | None = None
) -> list[run_sources.Listed[EventTrigger]]:
    """Triggers, oldest first, optionally of one service."""
    return run_sources.list_rows(session, EventTrigger, service_name=service_name)


def edit_trigger(
    session: Session,
    *,
    name: str,
    new_name: str | Unset | None = UNSET,
    query: EventQuery | Unset | None = UNSET,
    parameter_set_name: str | Unset | None = UNSET,
    parameters: Any = UNSET,
    debounce_seconds: float | Unset | None = UNSET,
    max_wait_seconds: float | Unset | None = UNSET,
    max_runs_per_hour: int | Unset | None = UNSET,
) -> EventTrigger:
    """Change the fields given (null keeps a name, query, debounce or cap; it clears the
    parameters or the parameter set). A change of what a run is started by or sends drops
    the burst waiting to run: its events were grouped by the old rule."""
    trigger = get_trigger(session, name=name)
    service = session.get_one(Service, trigger.service_id)
    new_query = query if isinstance(query, EventQuery) else EventQuery.model_validate(trigger.query)

    set_name: str | None = None
    if parameter_set_name is UNSET and trigger.parameter_set_id is not None:
        set_name = session.get_one(ServiceParameterSet, trigger.parameter_set_id).name
    elif isinstance(parameter_set_name, str):
        set_name = parameter_set_name
    new_parameters = trigger.parameters
    if parameters is not UNSET:
        # A masked secret sent back (by a user who was shown the mask) keeps its value.
        new_parameters = unmask(parameters, trigger.parameters)
        if parameters is not None and parameter_set_name is UNSET:
            set_name = None
    elif isinstance(parameter_set_name, str):
        new_parameters = None
    _check(
        service_name=service.name,
        query=new_query,
        parameter_set_name=set_name,
        parameters=new_parameters,
    )
    new_set_id = services_store.parameter_set_id(session, service_name=service.name, name=set_name)
    if (
        _stored(new_query) != trigger.query
        or new_parameters != trigger.parameters
        or new_set_id != trigger.parameter_set_id
    ):
        _drop_burst(trigger)
    trigger.query = _stored(new_query)
    trigger.parameters = new_parameters
    trigger.parameter_set_id = new_set_id

    debounce = debounce_seconds if isinstance(debounce_seconds, float | int) else None
    if debounce is not None:
        trigger.debounce_seconds = float(debounce)
    if isinstance(max_wait_seconds, float | int):
        trigger.max_wait_seconds = _max_wait(trigger.debounce_seconds, max_wait_seconds)
    elif debounce is not None:
        trigger.max_wait_seconds = max(trigger.max_wait_seconds, trigger.debounce_seconds)
    if isinstance(max_runs_per_hour, int):
        trigger.max_runs_per_hour = max_runs_per_hour
    run_sources.rename(session, trigger, new_name, exists=TRIGGER_EXISTS)
    return trigger


def set_enabled(session: Session, *, name: str, enabled: bool) -> EventTrigger:
    """Enable (from the newest event on, the reason cleared) or disable (the waiting burst
    dropped). Enabling an enabled trigger, or disabling a disabled one, changes nothing."""
    trigger = get_trigger(session, name=name)
    if enabled == trigger.enabled:
        return trigger
    trigger.enabled = enabled
    _drop_burst(trigger)
    if enabled:
        trigger.disabled_reason = None
        trigger.last_event_id = events_store.newest_id(session)
    session.flush()
    return trigger


def delete_trigger(session: Session, *, name: str) -> None:
    """Delete a trigger; the runs it started stay in the run log, without it."""
    session.delete(get_trigger(session, name=name))
    session.flush()


def _drop_burst(trigger: EventTrigger) -> None:
    trigger.pending = {}
    trigger.burst_started_at = None
    trigger.burst_last_event_at = None
