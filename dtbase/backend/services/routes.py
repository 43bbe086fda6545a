from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from anyio.to_thread import run_sync
from fastapi import APIRouter, Body, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from dtbase.backend.app_state import BackgroundRunsDep
from dtbase.backend.auth.deps import Admin, CurrentUser, Writer
from dtbase.backend.db import SessionDep
from dtbase.backend.errors import Unprocessable
from dtbase.backend.routing import documented, protected_router
from dtbase.backend.services import caller, store
from dtbase.backend.services.allowlist import UrlNotAllowed
from dtbase.backend.services.masking import mask_url, readable, shown_to
from dtbase.backend.services.runs import BackgroundRuns
from dtbase.backend.users.tables import User
from dtbase.core.unset import sent
from dtbase.schemas.common import Msg, utc_now
from dtbase.schemas.services import (
    CallServiceRequest,
    DeleteParameterSetRequest,
    DeleteScheduleRequest,
    DeleteServiceRequest,
    EditParameterSetRequest,
    EditScheduleRequest,
    EditServiceRequest,
    HttpMethod,
    InsertParameterSetRequest,
    InsertScheduleRequest,
    InsertServiceRequest,
    ListParameterSetsRequest,
    ListRunsRequest,
    ListSchedulesRequest,
    ParameterSet,
    RunOutcome,
    RunStarted,
    Schedule,
    ServiceDetails,
    ServiceRun,
    ServiceRunDetails,
)
from dtbase.schemas.users import Role

router: APIRouter = protected_router(prefix="/service", tags=["service"])

Result = TypeVar("Result")


def _check_url(runs: BackgroundRuns, url: str | None) -> None:
    """422 unless the backend may call `url` (who may register URLs: admins)."""
    if url is None:
        return
    try:
        runs.policy.allowlist.check_registration(url)
    except UrlNotAllowed as refusal:
        raise Unprocessable(["url"], str(refusal)) from refusal


def _is_admin(user: User) -> bool:
    return user.role == Role.admin


@router.post(
    "/insert-service",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented({409: store.SERVICE_EXISTS}),
)
def insert_service(
    body: InsertServiceRequest, runs: BackgroundRunsDep, session: SessionDep, _: Admin
) -> Msg:
    """Register a service: a name, the URL to call and the HTTP method to call it with.

    Admins only: the backend sends parameter sets (which may hold keys) to this URL. A URL
    that is not http(s), or whose host is not on DT_SERVICE_URL_ALLOWLIST, is a 422.
    """
    _check_url(runs, body.url)
    store.insert_service(session, name=body.name, url=body.url, http_method=body.http_method)
    return Msg(detail="Service created successfully.")


@router.get("/list-services", response_model=list[ServiceDetails])
def list_services(session: SessionDep, user: CurrentUser) -> list[ServiceDetails]:
    """Every service, oldest first; keys in URLs (`?code=`) are shown to admins only."""
    show = (lambda url: url) if _is_admin(user) else mask_url
    return [
        ServiceDetails(name=s.name, url=show(s.url), http_method=HttpMethod(s.http_method))
        for s in store.list_services(session)
    ]


@router.post(
    "/edit-service",
    response_model=Msg,
    responses=documented({400: store.NO_SERVICE, 409: store.SERVICE_EXISTS}),
)
def edit_service(
    body: EditServiceRequest, runs: BackgroundRunsDep, session: SessionDep, _: Admin
) -> Msg:
    """Rename a service or change its URL or method (dtbase only; admins only); omitted
    fields stay."""
    _check_url(runs, body.url)
    store.edit_service(
        session, name=body.name, new_name=body.new_name, url=body.url, http_method=body.http_method
    )
    return Msg(detail="Service edited successfully.")


@router.post("/delete-service", response_model=Msg, responses=documented({400: store.NO_SERVICE}))
def delete_service(body: DeleteServiceRequest, session: SessionDep, _: Admin) -> Msg:
    """Delete a service with its parameter sets and run log (admins only)."""
    store.delete_service(session, name=body.name)
    return Msg(detail="Service deleted successfully.")


@router.post(
    "/insert-parameter-set",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented({400: store.NO_SERVICE, 409: store.PARAMETER_SET_EXISTS}),
)
def insert_parameter_set(body: InsertParameterSetRequest, session: SessionDep, _: Writer) -> Msg:
    """Store a named JSON object of parameters for a service."""
    store.insert_parameter_set(
        session, service_name=body.service_name, name=body.name, parameters=body.parameters
    )
    return Msg(detail="Parameter set created successfully.")


@router.post(
    "/delete-parameter-set",
    response_model=Msg,
    responses=documented({400: store.NO_PARAMETER_SET, 409: store.PARAMETER_SET_IN_USE}),
)
def delete_parameter_set(body: DeleteParameterSetRequest, session: SessionDep, _: Writer) -> Msg:
    """Delete a parameter set and, as DTBase does, the runs that used it."""
    store.delete_parameter_set(session, service_name=body.service_name, name=body.name)
    return Msg(detail="Parameter set deleted successfully.")


@router.post("/list-parameter-sets", response_model=list[ParameterSet])
def list_parameter_sets(
    session: SessionDep,
    user: CurrentUser,
    body: Annotated[ListParameterSetsRequest | None, Body()] = None,
) -> list[ParameterSet]:
    """Every parameter set, oldest first, optionally of one service. The body is optional.

    Values under keys that look like secrets (`api_key`, `password`, ...) are masked for
    everyone but admins."""
    service_name = body.service_name if body is not None else None
    show = shown_to(user.role)
    return [
        ParameterSet(service_name=name, name=s.name, parameters=show(s.parameters))
        for name, s in store.list_parameter_sets(session, service_name=service_name)
    ]


@router.post(
    "/edit-parameter-set",
    response_model=Msg,
    responses=documented({400: store.NO_PARAMETER_SET}),
)
def edit_parameter_set(body: EditParameterSetRequest, session: SessionDep, _: Writer) -> Msg:
    """Replace a parameter set's parameters completely."""
    store.edit_parameter_set(
        session, service_name=body.service_name, name=body.name, parameters=body.parameters
    )
    return Msg(detail="Parameter set edited successfully.")


@router.post(
    "/run-service",
    response_model=RunOutcome,
    responses=documented(
        {
            202: (RunStarted, 'With `"wait": false`: the run started.'),
            400: store.NO_RUN_TARGET,
            502: (
                RunOutcome,
                "The service could not be reached, or its URL is not allowed (run logged).",
            ),
            504: (RunOutcome, "The service did not answer in time (run logged)."),
        }
    ),
)
async def run_service(
    body: CallServiceRequest, runs: BackgroundRunsDep, session: SessionDep, _: Writer
) -> RunOutcome | JSONResponse:
    """Call a service once and log the run.

    The JSON body sent is `parameters` if given, else the named parameter set's; with both,
    the explicit parameters win and the run is attributed to the set. The answer is 200
    whatever the service replied, with the run's id, the service's status code and JSON
    reply, and whether the run succeeded (a 2xx answer); 502 or 504 if it could not be
    reached or timed out. With `"wait": false` the answer is 202 at once, with the id of
    the run, logged as pending and completed when the service answers (see
    `list-runs-details`).

    Async: while the service works, the request holds neither a thread nor a database
    connection, so slow services cannot starve the rest of the API.
    """

    def target() -> store.RunTarget:
        return store.run_target(
            session,
            service_name=body.service_name,
            parameter_set_name=body.parameter_set_name,
            parameters=body.parameters,
        )

    if not body.wait:

        def start() -> tuple[store.RunTarget, int]:
            run_target = target()
            return run_target, store.start_run(session, target=run_target, timestamp=utc_now()).id

        run_target, run_id = await _committed(session, start)
        runs.submit(store.ClaimedRun(run_id=run_id, target=run_target))
        started = RunStarted(detail="Service run started.", run_id=run_id)
        return JSONResponse(started.model_dump(), status_code=status.HTTP_202_ACCEPTED)

    # Committed before the call: no transaction (nor connection) is held while the
    # service works.
    run_target = await _committed(session, target)
    timestamp = utc_now()
    outcome = await caller.call_service(
        method=run_target.http_method,
        url=run_target.url,
        parameters=run_target.parameters,
        policy=runs.policy,
    )

    def log() -> int:
        return store.log_run(
            session,
            target=run_target,
            timestamp=timestamp,
            response_status_code=outcome.status_code,
            response_json=outcome.response_json,
            error=outcome.error,
            duration_seconds=outcome.duration_seconds,
        ).id

    answer = RunOutcome(
        detail=outcome.detail,
        # Committed here: a failed call is logged, although the answer is an error.
        run_id=await _committed(session, log),
        response_status_code=outcome.status_code,
        response_json=outcome.response_json,
        status=store.run_status(outcome.status_code, outcome.error),
        error=outcome.error,
    )
    if not outcome.answered:
        return JSONResponse(answer.model_dump(mode="json"), status_code=outcome.status_code)
    return answer


async def _committed(session: Session, work: Callable[[], Result]) -> Result:
    """`work` done and committed in a worker thread: run-service commits on its own
    (not at the request's end), so that it holds no transaction while the service works
    and keeps the run it logged whatever the answer."""

    def commit_after() -> Result:
        result = work()
        session.commit()
        return result

    return await run_sync(commit_after)


OptionalRunFilters = Annotated[
    ListRunsRequest | None,
    Body(description="Optional; `parameter_set_name` only together with `service_name`."),
]


@router.post("/list-runs", response_model=list[ServiceRun])
def list_runs(
    session: SessionDep, user: CurrentUser, body: OptionalRunFilters = None
) -> list[ServiceRun]:
    """Runs ordered by time, optionally of one service and parameter set. Body optional.
    Secrets in the parameters are masked for everyone but admins (as in list-parameter-sets).
    """
    show = shown_to(user.role)
    return [
        ServiceRun(
            service_name=row.service_name,
            parameter_set_name=row.parameter_set_name,
            parameters=show(row.run.parameters),
            response_json=readable(row.run.response_json),
            response_status_code=row.run.response_status_code,
            timestamp=row.run.timestamp,
        )
        for row in _runs(session, body)
    ]


@router.post("/list-runs-details", response_model=list[ServiceRunDetails])
def list_runs_details(
    session: SessionDep, user: CurrentUser, body: OptionalRunFilters = None
) -> list[ServiceRunDetails]:
    """list-runs plus each run's id, error text and duration (dtbase only)."""
    show = shown_to(user.role)
    return [
        ServiceRunDetails(
            id=row.run.id,
            service_name=row.service_name,
            parameter_set_name=row.parameter_set_name,
            parameters=show(row.run.parameters),
            response_json=readable(row.run.response_json),
            response_status_code=row.run.response_status_code,
            timestamp=row.run.timestamp,
            error=row.run.error,
            duration_seconds=row.run.duration_seconds,
            status=row.run.status,
            schedule_name=row.schedule_name,
            trigger_name=row.trigger_name,
            trigger_event_ids=row.run.trigger_event_ids,
        )
        for row in _runs(session, body)
    ]


def _runs(session: Session, body: ListRunsRequest | None) -> list[store.RunRow]:
    if body is None:
        return store.list_runs(session)
    return store.list_runs(
        session, service_name=body.service_name, parameter_set_name=body.parameter_set_name
    )


# --- schedules -----------------------------------------------------------------------


@router.post(
    "/insert-schedule",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented({400: store.NO_RUN_TARGET, 409: store.SCHEDULE_EXISTS}),
)
def insert_schedule(body: InsertScheduleRequest, session: SessionDep, _: Writer) -> Msg:
    """Schedule a service: a cron expression (in a time zone) or an interval in seconds,
    with a parameter set or explicit parameters (dtbase only).

    A cron schedule first runs at the expression's next time; an interval schedule at
    `start_at`, or one interval from now. Missed runs (the backend was down) are not
    replayed: an overdue schedule runs once and then at its next future time.
    """
    store.insert_schedule(
        session,
        service_name=body.service_name,
        name=body.name,
        cron=body.cron,
        interval_seconds=body.interval_seconds,
        time_zone=body.time_zone,
        parameter_set_name=body.parameter_set_name,
        parameters=body.parameters,
        enabled=body.enabled,
        start_at=body.start_at,
        now=utc_now(),
    )
    return Msg(detail="Schedule created successfully.")


@router.post("/list-schedules", response_model=list[Schedule])
def list_schedules(
    session: SessionDep,
    user: CurrentUser,
    body: Annotated[ListSchedulesRequest | None, Body()] = None,
) -> list[Schedule]:
    """Every schedule, oldest first, optionally of one service. The body is optional.
    Secrets in explicit parameters are masked for everyone but admins."""
    rows = store.list_schedules(session, service_name=body.service_name if body else None)
    show = shown_to(user.role)
    return [
        Schedule(
            service_name=row.service_name,
            name=row.row.name,
            cron=row.row.cron,
            interval_seconds=row.row.interval_seconds,
            time_zone=row.row.time_zone,
            parameter_set_name=row.parameter_set_name,
            parameters=show(row.row.parameters),
            enabled=row.row.enabled,
            next_run_at=row.row.next_run_at if row.row.enabled else None,
            last_run_at=row.row.last_run_at,
        )
        for row in rows
    ]


@router.post(
    "/edit-schedule",
    response_model=Msg,
    responses=documented(
        {
            400: "Schedule or parameter set does not exist.",
            409: store.SCHEDULE_EXISTS,
        }
    ),
)
def edit_schedule(body: EditScheduleRequest, session: SessionDep, _: Writer) -> Msg:
    """Change, enable (`"enabled": true`) or disable (`false`) a schedule.

    Fields left out keep their value; an explicit null clears one. Giving `cron` replaces
    `interval_seconds` and the reverse; `parameter_set_name` replaces `parameters` and the
    reverse. Changing the timing, or enabling, sets the next run from now.
    """
    store.edit_schedule(
        session,
        service_name=body.service_name,
        name=body.name,
        now=utc_now(),
        new_name=sent(body, "new_name"),
        cron=sent(body, "cron"),
        interval_seconds=sent(body, "interval_seconds"),
        time_zone=sent(body, "time_zone"),
        parameter_set_name=sent(body, "parameter_set_name"),
        parameters=sent(body, "parameters"),
        enabled=sent(body, "enabled"),
        start_at=sent(body, "start_at"),
    )
    return Msg(detail="Schedule edited successfully.")


@router.post("/delete-schedule", response_model=Msg, responses=documented({400: store.NO_SCHEDULE}))
def delete_schedule(body: DeleteScheduleRequest, session: SessionDep, _: Writer) -> Msg:
    """Delete a schedule; the runs it made stay in the run log."""
    store.delete_schedule(session, service_name=body.service_name, name=body.name)
    return Msg(detail="Schedule deleted successfully.")
