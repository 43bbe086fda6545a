"""Queries on services, parameter sets, schedules and runs. Functions flush, never commit."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dtbase.backend.errors import AlreadyExists, Conflict, InvalidInput, Unprocessable
from dtbase.backend.events.record import record, record_service_runs
from dtbase.backend.events.triggers_tables import EventTrigger
from dtbase.backend.services import run_sources, timing
from dtbase.backend.services.masking import unmask
from dtbase.backend.services.run_sources import NO_RUN_TARGET as NO_RUN_TARGET
from dtbase.backend.services.tables import (
    Service,
    ServiceParameterSet,
    ServiceRunLog,
    ServiceSchedule,
)
from dtbase.core.unset import UNSET, Unset
from dtbase.schemas.events import EventKind
from dtbase.schemas.services import MAX_PARAMETERS_BYTES, HttpMethod, RunStatus, json_problem

NO_SERVICE = "Service does not exist."
NO_PARAMETER_SET = "Parameter set does not exist."
NO_SCHEDULE = "Schedule does not exist."
SERVICE_EXISTS = "Service already exists."
PARAMETER_SET_EXISTS = "Parameter set already exists."
PARAMETER_SET_IN_USE = "Parameter set is used by a schedule or an event trigger."
SCHEDULE_EXISTS = "Schedule already exists."


def check_parameters(parameters: Any) -> None:
    """422 naming the element of `parameters` that cannot be stored (and read back) as
    JSON, or saying that they are too large."""
    problem = json_problem(parameters)
    if problem is not None:
        # The input is not echoed: NaN or a lone surrogate cannot be written back as JSON.
        raise Unprocessable(["parameters", *problem.path], problem.message)
    if parameters is not None and len(json.dumps(parameters)) > MAX_PARAMETERS_BYTES:
        raise Unprocessable(
            ["parameters"], f"Parameters may take at most {MAX_PARAMETERS_BYTES} bytes as JSON"
        )


# --- services ------------------------------------------------------------------------


def find_service(session: Session, *, name: str) -> Service | None:
    return session.scalars(select(Service).where(Service.name == name)).one_or_none()


def get_service(session: Session, *, name: str) -> Service:
    service = find_service(session, name=name)
    if service is None:
        raise InvalidInput(NO_SERVICE)
    return service


def list_services(session: Session) -> Sequence[Service]:
    return session.scalars(select(Service).order_by(Service.id)).all()


def insert_service(session: Session, *, name: str, url: str, http_method: str) -> Service:
    service = Service(name=name, url=url, http_method=HttpMethod(http_method))
    try:
        with session.begin_nested():
            session.add(service)
    except IntegrityError as error:
        raise AlreadyExists(SERVICE_EXISTS) from error
    record(session, EventKind.service_created, {"service": name})
    return service


def edit_service(
    session: Session,
    *,
    name: str,
    new_name: str | None = None,
    url: str | None = None,
    http_method: str | None = None,
) -> Service:
    """Change what is given; a new name already taken by another service is a 409."""
    service = get_service(session, name=name)
    try:
        with session.begin_nested():
            if new_name is not None:
                service.name = new_name
            if url is not None:
                service.url = url
            if http_method is not None:
                service.http_method = HttpMethod(http_method)
    except IntegrityError as error:
        raise AlreadyExists(SERVICE_EXISTS) from error
    return service


def delete_service(session: Session, *, name: str) -> None:
    """Delete a service with its parameter sets, schedules, triggers and run log.

    Its schedules and triggers are locked first: the scheduler and the trigger worker
    lock one (their claim) and then, logging its run, the service's row (the run log's
    foreign key). The delete takes them in that order too, so it waits for a claim under
    way instead of deadlocking with it (the cascade would lock the service first).
    """
    service = get_service(session, name=name)
    for table in (EventTrigger, ServiceSchedule):
        session.execute(
            select(table.id)
            .where(table.service_id == service.id)
            .order_by(table.id)
            .with_for_update()
        ).all()
    session.delete(service)
    session.flush()
    record(session, EventKind.service_deleted, {"service": name})


# --- parameter sets ------------------------------------------------------------------


def find_parameter_set(
    session: Session, *, service_name: str, name: str
) -> ServiceParameterSet | None:
    query = (
        select(ServiceParameterSet)
        .join(Service, Service.id == ServiceParameterSet.service_id)
        .where(Service.name == service_name, ServiceParameterSet.name == name)
    )
    return session.scalars(query).one_or_none()


def get_parameter_set(session: Session, *, service_name: str, name: str) -> ServiceParameterSet:
    parameter_set = find_parameter_set(session, service_name=service_name, name=name)
    if parameter_set is None:
        raise InvalidInput(NO_PARAMETER_SET)
    return parameter_set


def insert_parameter_set(
    session: Session, *, service_name: str, name: str, parameters: dict[str, Any]
) -> ServiceParameterSet:
    check_parameters(parameters)
    service = get_service(session, name=service_name)
    parameter_set = ServiceParameterSet(service_id=service.id, name=name, parameters=parameters)
    try:
        with session.begin_nested():
            session.add(parameter_set)
    except IntegrityError as error:
        if run_sources.constraint_of(error) == "uq_service_parameter_set_service_id_name":
            raise AlreadyExists(PARAMETER_SET_EXISTS) from error
        # The service was deleted by another request since we read it.
        raise InvalidInput(NO_SERVICE) from error
    return parameter_set


def edit_parameter_set(
    session: Session, *, service_name: str, name: str, parameters: dict[str, Any]
) -> ServiceParameterSet:
    check_parameters(parameters)
    parameter_set = get_parameter_set(session, service_name=service_name, name=name)
    # A masked secret sent back (by a user who was shown the mask) keeps its stored value.
    parameter_set.parameters = unmask(parameters, parameter_set.parameters)
    session.flush()
    return parameter_set


def delete_parameter_set(session: Session, *, service_name: str, name: str) -> None:
    """Delete a parameter set and, as DTBase does, the runs that used it.

    A schedule or an event trigger that uses the set blocks the delete (409 naming them).
    """
    parameter_set = get_parameter_set(session, service_name=service_name, name=name)
    for kind, table in (("schedules", ServiceSchedule), ("triggers", EventTrigger)):
        users = session.scalars(
            select(table.name).where(table.parameter_set_id == parameter_set.id).order_by(table.id)
        ).all()
        if users:
            raise Conflict(f"Parameter set is used by {kind}: {', '.join(users)}.")
    try:
        with session.begin_nested():
            session.delete(parameter_set)
    except IntegrityError as error:
        # A schedule started using it since we looked.
        raise Conflict(PARAMETER_SET_IN_USE) from error


def list_parameter_sets(
    session: Session, *, service_name: str | None = None
) -> list[tuple[str, ServiceParameterSet]]:
    """(service name, parameter set) pairs, oldest set first."""
    query = (
        select(Service.name, ServiceParameterSet)
        .join(Service, Service.id == ServiceParameterSet.service_id)
        .order_by(ServiceParameterSet.id)
    )
    if service_name is not None:
        query = query.where(Service.name == service_name)
    return [(row[0], row[1]) for row in session.execute(query)]


# --- runs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunTarget:
    """What run-service calls, read before the call so no transaction stays open."""

    service_id: int
    url: str
    http_method: str
    parameter_set_id: int | None
    parameters: Any


def run_target(
    session: Session,
    *,
    service_name: str,
    parameter_set_name: str | None = None,
    parameters: Any = None,
) -> RunTarget:
    """The service to call and the parameters to send: explicit ones win over the set's."""
    check_parameters(parameters)
    service = find_service(session, name=service_name)
    if service is None:
        raise InvalidInput(NO_RUN_TARGET)
    parameter_set_id = None
    if parameter_set_name is not None:
        parameter_set = find_parameter_set(
            session, service_name=service_name, name=parameter_set_name
        )
        if parameter_set is None:
            raise InvalidInput(NO_RUN_TARGET)
        parameter_set_id = parameter_set.id
        if parameters is None:
            parameters = parameter_set.parameters
    return RunTarget(
        service_id=service.id,
        url=service.url,
        http_method=service.http_method.value,
        parameter_set_id=parameter_set_id,
        parameters=parameters,
    )


def run_status(response_status_code: int, error: str | None) -> RunStatus:
    """Succeeded when the service answered 2xx; failed otherwise (redirects are not
    followed, so a 3xx means the work was not done)."""
    if error is None and 200 <= response_status_code < 300:
        return RunStatus.succeeded
    return RunStatus.failed


def log_run(
    session: Session,
    *,
    target: RunTarget,
    timestamp: datetime,
    response_status_code: int,
    response_json: Any,
    error: str | None,
    duration_seconds: float,
) -> ServiceRunLog:
    """Log a finished run (run-service waiting for the answer)."""
    run = ServiceRunLog(
        service_id=target.service_id,
        parameter_set_id=target.parameter_set_id,
        parameters=target.parameters,
        response_status_code=response_status_code,
        response_json=response_json,
        error=error,
        duration_seconds=duration_seconds,
        timestamp=timestamp,
        status=run_status(response_status_code, error),
    )
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError as error_:
        # Only possible if the service or set was deleted while the call was under way.
        raise Conflict(
            "The service or its parameter set was deleted during the run; it was not logged."
        ) from error_
    record_service_runs(session, [run.id])
    return run


def start_run(
    session: Session,
    *,
    target: RunTarget,
    timestamp: datetime,
    schedule_id: int | None = None,
    trigger_id: int | None = None,
    trigger_event_ids: list[int] | None = None,
) -> ServiceRunLog:
    """Log a run as pending before the call; `complete_run` fills in the answer."""
    run = ServiceRunLog(
        service_id=target.service_id,
        parameter_set_id=target.parameter_set_id,
        parameters=target.parameters,
        response_status_code=None,
        response_json=None,
        error=None,
        duration_seconds=None,
        timestamp=timestamp,
        status=RunStatus.pending,
        schedule_id=schedule_id,
        trigger_id=trigger_id,
        trigger_event_ids=trigger_event_ids,
    )
    session.add(run)
    session.flush()
    return run


def complete_run(
    session: Session,
    *,
    run_id: int,
    response_status_code: int,
    response_json: Any,
    error: str | None,
    duration_seconds: float,
) -> bool:
    """Record a pending run's answer; False if the run is gone (its service was deleted)
    or no longer pending (given up as stale)."""
    result = session.execute(
        update(ServiceRunLog)
        .where(ServiceRunLog.id == run_id, ServiceRunLog.status == RunStatus.pending)
        .values(
            response_status_code=response_status_code,
            response_json=response_json,
            error=error,
            duration_seconds=duration_seconds,
            status=run_status(response_status_code, error),
        )
    )
    completed = bool(getattr(result, "rowcount", 0))
    if completed:
        record_service_runs(session, [run_id])
    return completed


STALE_RUN_ERROR = (
    "The backend stopped before the service answered: the run was pending with no backend "
    "working on it. The service may or may not have done its work."
)
# A stale run never got an answer: reported like a call that timed out.
STALE_RUN_STATUS_CODE = 504


def keep_runs_alive(session: Session, *, run_ids: Collection[int]) -> None:
    """Mark pending runs as still worked on (queued or being called) by this backend."""
    if not run_ids:
        return
    session.execute(
        update(ServiceRunLog)
        .where(ServiceRunLog.id.in_(run_ids), ServiceRunLog.status == RunStatus.pending)
        .values(time_updated=func.now())
        .execution_options(synchronize_session=False)
    )


def fail_stale_runs(session: Session, *, stale_after: timedelta) -> list[int]:
    """Fail the pending runs with no sign of life for `stale_after`; their ids.

    A backend keeps its pending runs alive (`keep_runs_alive`) until they complete, so a
    pending run that has not been touched for longer was left by a backend that stopped
    (killed, crashed, restarted) before the service answered, and would stay pending
    forever. One UPDATE, on the database's clock: with several backends on one database
    a row is failed once, and a run completed or kept alive meanwhile is re-checked by
    PostgreSQL after the row lock and left alone.
    """
    last_sign_of_life = func.coalesce(ServiceRunLog.time_updated, ServiceRunLog.time_created)
    result = session.execute(
        update(ServiceRunLog)
        .where(
            ServiceRunLog.status == RunStatus.pending,
            last_sign_of_life < func.now() - stale_after,
        )
        .values(
            status=RunStatus.failed,
            error=STALE_RUN_ERROR,
            response_status_code=STALE_RUN_STATUS_CODE,
        )
        .returning(ServiceRunLog.id)
        .execution_options(synchronize_session=False)
    )
    failed = sorted(result.scalars())
    record_service_runs(session, failed)
    return failed


@dataclass(frozen=True)
class RunRow:
    run: ServiceRunLog
    service_name: str
    parameter_set_name: str | None
    schedule_name: str | None = None
    trigger_name: str | None = None


def list_runs(
    session: Session,
    *,
    service_name: str | None = None,
    parameter_set_name: str | None = None,
) -> list[RunRow]:
    """Runs ordered by timestamp, then id; filter by service and (with it) parameter set."""
    if parameter_set_name is not None and service_name is None:
        raise InvalidInput("parameter_set_name can only be given with service_name")
    query = (
        select(
            ServiceRunLog,
            Service.name,
            ServiceParameterSet.name,
            ServiceSchedule.name,
            EventTrigger.name,
        )
        .join(Service, Service.id == ServiceRunLog.service_id)
        .outerjoin(ServiceParameterSet, ServiceParameterSet.id == ServiceRunLog.parameter_set_id)
        .outerjoin(ServiceSchedule, ServiceSchedule.id == ServiceRunLog.schedule_id)
        .outerjoin(EventTrigger, EventTrigger.id == ServiceRunLog.trigger_id)
        .order_by(ServiceRunLog.timestamp, ServiceRunLog.id)
    )
    if service_name is not None:
        query = query.where(Service.name == service_name)
    if parameter_set_name is not None:
        query = query.where(ServiceParameterSet.name == parameter_set_name)
    return [
        RunRow(
            run=row[0],
            service_name=row[1],
            parameter_set_name=row[2],
            schedule_name=row[3],
            trigger_name=row[4],
        )
        for row in session.execute(query)
    ]


# --- schedules -----------------------------------------------------------------------


def _check_timing(cron: str | None, interval_seconds: int | None, time_zone: str) -> None:
    if cron is not None and interval_seconds is not None:
        raise Unprocessable(["cron"], "Give either cron or interval_seconds, not both", cron)
    if cron is None and interval_seconds is None:
        raise Unprocessable(["cron"], "Give either cron or interval_seconds")
    timing.zone(time_zone)
    if cron is not None:
        timing.check_cron(cron)


def _check_run_parameters(parameter_set_name: str | None, parameters: Any) -> None:
    run_sources.check_one_of(parameter_set_name, parameters)
    check_parameters(parameters)


def _first_run(
    *,
    cron: str | None,
    interval_seconds: int | None,
    time_zone: str,
    start_at: datetime | None,
    now: datetime,
) -> datetime:
    if cron is not None:
        if start_at is not None:
            raise Unprocessable(["start_at"], "start_at is for interval schedules only")
        first = timing.next_cron(cron, time_zone, now)
        if first is None:
            raise Unprocessable(["cron"], "The cron expression never fires", cron)
        return first
    assert interval_seconds is not None
    return start_at if start_at is not None else now + timedelta(seconds=interval_seconds)


def parameter_set_id(session: Session, *, service_name: str, name: str | None) -> int | None:
    """The id of the service's parameter set `name` (400 if none), or None for no name."""
    if name is None:
        return None
    return get_parameter_set(session, service_name=service_name, name=name).id


def insert_schedule(
    session: Session,
    *,
    service_name: str,
    name: str,
    cron: str | None,
    interval_seconds: int | None,
    time_zone: str,
    parameter_set_name: str | None,
    parameters: Any,
    enabled: bool,
    start_at: datetime | None,
    now: datetime,
) -> ServiceSchedule:
    _check_timing(cron, interval_seconds, time_zone)
    _check_run_parameters(parameter_set_name, parameters)
    next_run_at = _first_run(
        cron=cron,
        interval_seconds=interval_seconds,
        time_zone=time_zone,
        start_at=start_at,
        now=now,
    )
    service = get_service(session, name=service_name)
    schedule = ServiceSchedule(
        service_id=service.id,
        name=name,
        cron=cron,
        interval_seconds=interval_seconds,
        time_zone=time_zone,
        parameter_set_id=parameter_set_id(
            session, service_name=service_name, name=parameter_set_name
        ),
        parameters=parameters,
        enabled=enabled,
        next_run_at=next_run_at,
    )
    run_sources.add(
        session, schedule, unique="uq_service_schedule_service_id_name", exists=SCHEDULE_EXISTS
    )
    return schedule


def get_schedule(session: Session, *, service_name: str, name: str) -> ServiceSchedule:
    query = (
        select(ServiceSchedule)
        .join(Service, Service.id == ServiceSchedule.service_id)
        .where(Service.name == service_name, ServiceSchedule.name == name)
    )
    schedule = session.scalars(query).one_or_none()
    if schedule is None:
        raise InvalidInput(NO_SCHEDULE)
    return schedule


def list_schedules(
    session: Session, *, service_name: str | None = None
) -> list[run_sources.Listed[ServiceSchedule]]:
    """Schedules, oldest first, optionally of one service."""
    return run_sources.list_rows(session, ServiceSchedule, service_name=service_name)


def edit_schedule(
    session: Session,
    *,
    service_name: str,
    name: str,
    now: datetime,
    new_name: str | Unset | None = UNSET,
    cron: str | Unset | None = UNSET,
    interval_seconds: int | Unset | None = UNSET,
    time_zone: str | Unset | None = UNSET,
    parameter_set_name: str | Unset | None = UNSET,
    parameters: dict[str, Any] | list[Any] | Unset | None = UNSET,
    enabled: bool | Unset | None = UNSET,
    start_at: datetime | Unset | None = UNSET,
) -> ServiceSchedule:
    """Change the fields given (None clears a field; a null name, time zone or `enabled`
    keeps it).

    Giving cron clears interval_seconds and the reverse; giving parameter_set_name clears
    parameters and the reverse. A change of timing, or enabling a disabled schedule,
    sets the next run from now (an interval keeps its phase when only re-enabled).
    """
    schedule = get_schedule(session, service_name=service_name, name=name)
    new_cron, new_interval = schedule.cron, schedule.interval_seconds
    if cron is not UNSET:
        new_cron = cron
        if cron is not None and interval_seconds is UNSET:
            new_interval = None
    if interval_seconds is not UNSET:
        new_interval = interval_seconds
        if interval_seconds is not None and cron is UNSET:
            new_cron = None
    zone = time_zone if isinstance(time_zone, str) and time_zone else schedule.time_zone
    _check_timing(new_cron, new_interval, zone)

    set_name = None
    new_parameters = schedule.parameters
    if parameter_set_name is not UNSET:
        set_name = parameter_set_name
        if set_name is not None and parameters is UNSET:
            new_parameters = None
    if parameters is not UNSET:
        new_parameters = parameters
    _check_run_parameters(set_name, new_parameters)
    if parameter_set_name is not UNSET:
        schedule.parameter_set_id = parameter_set_id(
            session, service_name=service_name, name=set_name
        )
    elif new_parameters is not None:
        schedule.parameter_set_id = None
    schedule.parameters = new_parameters

    if any(given is not UNSET for given in (cron, interval_seconds, time_zone, start_at)):
        schedule.next_run_at = _first_run(
            cron=new_cron,
            interval_seconds=new_interval,
            time_zone=zone,
            start_at=None if start_at is UNSET else start_at,
            now=now,
        )
    elif enabled is True and not schedule.enabled:
        schedule.next_run_at = _following(schedule, now)
    schedule.cron, schedule.interval_seconds, schedule.time_zone = new_cron, new_interval, zone
    if isinstance(enabled, bool):
        schedule.enabled = enabled
    run_sources.rename(session, schedule, new_name, exists=SCHEDULE_EXISTS)
    return schedule


def delete_schedule(session: Session, *, service_name: str, name: str) -> None:
    """Delete a schedule; its runs stay in the log, without it."""
    session.delete(get_schedule(session, service_name=service_name, name=name))
    session.flush()


def _following(schedule: ServiceSchedule, now: datetime) -> datetime | None:
    """The next occurrence strictly after `now` (missed occurrences are skipped)."""
    if schedule.cron is not None:
        return timing.next_cron(schedule.cron, schedule.time_zone, now)
    assert schedule.interval_seconds is not None
    anchor = schedule.next_run_at or now
    return timing.next_interval(anchor, schedule.interval_seconds, now)


def _schedule_target(session: Session, schedule: ServiceSchedule) -> RunTarget:
    service = session.get_one(Service, schedule.service_id)
    parameters = schedule.parameters
    if parameters is None and schedule.parameter_set_id is not None:
        parameters = session.get_one(ServiceParameterSet, schedule.parameter_set_id).parameters
    return RunTarget(
        service_id=service.id,
        url=service.url,
        http_method=service.http_method.value,
        parameter_set_id=schedule.parameter_set_id,
        parameters=parameters,
    )


@dataclass(frozen=True)
class ClaimedRun:
    """A run the scheduler has claimed and logged as pending, to be called next."""

    run_id: int
    target: RunTarget


def claim_due(session: Session, *, now: datetime, limit: int = 100) -> list[ClaimedRun]:
    """Claim the schedules due at `now`, advance them and log their runs as pending.

    `FOR UPDATE SKIP LOCKED`: a schedule another scheduler is claiming is skipped, and
    one it has claimed is no longer due once that transaction commits, so two
    schedulers on one database never run an occurrence twice. Catch-up: however many
    occurrences were missed, one run is made and the next run is the next future one.
    """
    due = session.scalars(
        select(ServiceSchedule)
        .where(ServiceSchedule.enabled.is_(True), ServiceSchedule.next_run_at <= now)
        .order_by(ServiceSchedule.next_run_at, ServiceSchedule.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for schedule in due:
        target = _schedule_target(session, schedule)
        schedule.next_run_at = _following(schedule, now)
        schedule.last_run_at = now
        run = start_run(session, target=target, timestamp=now, schedule_id=schedule.id)
        claimed.append(ClaimedRun(run_id=run.id, target=target))
    return claimed
