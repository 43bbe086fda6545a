"""/events/triggers: service runs started by events (docs/events.md, "Triggers").

Who may do what, as for schedules: writers (role user) and admins create, edit, enable,
disable and delete triggers, since a trigger only starts runs of a registered service, as
a writer may at any time (`run-service`); the URL it calls was registered by an admin.
Every logged-in user may list them, secrets in templates masked for all but admins.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Request, status

from dtbase.backend.auth.deps import CurrentUser, Writer
from dtbase.backend.db import SessionDep
from dtbase.backend.events import triggers_store as store
from dtbase.backend.events.triggers_tables import EventTrigger
from dtbase.backend.routing import documented, protected_router
from dtbase.backend.services import run_sources
from dtbase.backend.services.masking import shown_to
from dtbase.core.settings import BackendSettings
from dtbase.core.unset import sent
from dtbase.schemas.common import Msg
from dtbase.schemas.triggers import (
    CreateTriggerRequest,
    EditTriggerRequest,
    ListTriggersRequest,
    Trigger,
    TriggerName,
)

router = protected_router(prefix="/events/triggers", tags=["triggers"])


def _settings(request: Request) -> BackendSettings:
    settings: BackendSettings = request.app.state.settings
    return settings


@router.post(
    "/create",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented(
        {
            400: "Service or parameter set does not exist.",
            409: store.TRIGGER_EXISTS,
            422: "A bad query or template, or a trigger on its own service's runs (a loop).",
        }
    ),
)
def create_trigger(
    body: CreateTriggerRequest, request: Request, session: SessionDep, _: Writer
) -> Msg:
    """Run a service when events matching `query` arrive: once per burst (after
    `debounce_seconds` without a new matching event) and per distinct parameters filled
    from the events. The trigger starts at the newest event."""
    max_runs = body.max_runs_per_hour or _settings(request).trigger_max_runs_per_hour
    store.insert_trigger(
        session,
        name=body.name,
        service_name=body.service_name,
        query=body.query,
        parameter_set_name=body.parameter_set_name,
        parameters=body.parameters,
        debounce_seconds=body.debounce_seconds,
        max_wait_seconds=body.max_wait_seconds,
        max_runs_per_hour=max_runs,
        enabled=body.enabled,
    )
    return Msg(detail="Trigger created successfully.")


@router.post("/list", response_model=list[Trigger])
def list_triggers(
    session: SessionDep,
    user: CurrentUser,
    body: Annotated[ListTriggersRequest | None, Body()] = None,
) -> list[Trigger]:
    """Every trigger, oldest first, optionally of one service. The body is optional."""
    show = shown_to(user.role)
    rows = store.list_triggers(session, service_name=body.service_name if body else None)
    return [_trigger(row, show) for row in rows]


def _trigger(row: run_sources.Listed[EventTrigger], show: Any) -> Trigger:
    trigger = row.row
    groups = trigger.pending.values()
    return Trigger(
        name=trigger.name,
        service_name=row.service_name,
        query=trigger.query,
        parameter_set_name=row.parameter_set_name,
        parameters=show(trigger.parameters),
        debounce_seconds=trigger.debounce_seconds,
        max_wait_seconds=trigger.max_wait_seconds,
        max_runs_per_hour=trigger.max_runs_per_hour,
        enabled=trigger.enabled,
        disabled_reason=trigger.disabled_reason,
        last_event_id=trigger.last_event_id,
        burst_started_at=trigger.burst_started_at,
        burst_last_event_at=trigger.burst_last_event_at,
        pending_events=sum(int(group["events"]) for group in groups),
        pending_runs=len(groups),
        last_run_id=trigger.last_run_id,
        last_run_at=trigger.last_run_at,
        time_created=trigger.time_created,
    )


@router.post(
    "/edit",
    response_model=Msg,
    responses=documented(
        {
            400: "Trigger or parameter set does not exist.",
            409: store.TRIGGER_EXISTS,
            422: "A bad query or template, or a trigger on its own service's runs (a loop).",
        }
    ),
)
def edit_trigger(body: EditTriggerRequest, session: SessionDep, _: Writer) -> Msg:
    """Change a trigger: fields left out keep their value. A change of the query, the
    parameters or the parameter set drops the burst waiting to run."""
    store.edit_trigger(
        session,
        name=body.name,
        new_name=sent(body, "new_name"),
        query=sent(body, "query"),
        parameter_set_name=sent(body, "parameter_set_name"),
        parameters=sent(body, "parameters"),
        debounce_seconds=sent(body, "debounce_seconds"),
        max_wait_seconds=sent(body, "max_wait_seconds"),
        max_runs_per_hour=sent(body, "max_runs_per_hour"),
    )
    return Msg(detail="Trigger edited successfully.")


@router.post("/enable", response_model=Msg, responses=documented({400: store.NO_TRIGGER}))
def enable_trigger(body: TriggerName, session: SessionDep, _: Writer) -> Msg:
    """Enable a trigger (one the loop guard disabled too): it starts again at the newest
    event; what happened while it was disabled is not run."""
    store.set_enabled(session, name=body.name, enabled=True)
    return Msg(detail="Trigger enabled.")


@router.post("/disable", response_model=Msg, responses=documented({400: store.NO_TRIGGER}))
def disable_trigger(body: TriggerName, session: SessionDep, _: Writer) -> Msg:
    """Disable a trigger; the burst waiting to run is dropped."""
    store.set_enabled(session, name=body.name, enabled=False)
    return Msg(detail="Trigger disabled.")


@router.post("/delete", response_model=Msg, responses=documented({400: store.NO_TRIGGER}))
def delete_trigger(body: TriggerName, session: SessionDep, _: Writer) -> Msg:
    """Delete a trigger; the runs it started stay in the run log."""
    store.delete_trigger(session, name=body.name)
    return Msg(detail="Trigger deleted successfully.")
