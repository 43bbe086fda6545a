"""Queries on services, parameter sets and runs. Functions flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dtbase.backend.errors import AlreadyExists, Conflict, InvalidInput, Unprocessable
from dtbase.backend.services.tables import Service, ServiceParameterSet, ServiceRunLog
from dtbase.schemas.services import HttpMethod, json_problem

NO_SERVICE = "Service does not exist."
NO_PARAMETER_SET = "Parameter set does not exist."
NO_RUN_TARGET = "Service or parameter set does not exist."


def check_parameters(parameters: Any) -> None:
    """422 naming the element of `parameters` that PostgreSQL cannot store as JSON."""
    problem = json_problem(parameters)
    if problem is not None:
        # The input is not echoed: NaN or a lone surrogate cannot be written back as JSON.
        raise Unprocessable(["parameters", *problem.path], problem.message)


def _constraint_of(error: IntegrityError) -> str | None:
    diag = getattr(error.orig, "diag", None)
    name: str | None = getattr(diag, "constraint_name", None)
    return name


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
        raise AlreadyExists("Service already exists.") from error
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
        raise AlreadyExists("Service already exists.") from error
    return service


def delete_service(session: Session, *, name: str) -> None:
    """Delete a service with its parameter sets and its run log."""
    session.delete(get_service(session, name=name))
    session.flush()


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
        if _constraint_of(error) == "uq_service_parameter_set_service_id_name":
            raise AlreadyExists("Parameter set already exists.") from error
        # The service was deleted by another request since we read it.
        raise InvalidInput(NO_SERVICE) from error
    return parameter_set


def edit_parameter_set(
    session: Session, *, service_name: str, name: str, parameters: dict[str, Any]
) -> ServiceParameterSet:
    check_parameters(parameters)
    parameter_set = get_parameter_set(session, service_name=service_name, name=name)
    parameter_set.parameters = parameters
    session.flush()
    return parameter_set


def delete_parameter_set(session: Session, *, service_name: str, name: str) -> None:
    """Delete a parameter set and, as DTBase does, the runs that used it."""
    session.delete(get_parameter_set(session, service_name=service_name, name=name))
    session.flush()


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
    run = ServiceRunLog(
        service_id=target.service_id,
        parameter_set_id=target.parameter_set_id,
        parameters=target.parameters,
        response_status_code=response_status_code,
        response_json=response_json,
        error=error,
        duration_seconds=duration_seconds,
        timestamp=timestamp,
    )
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError as error_:
        # Only possible if the service or set was deleted while the call was under way.
        raise Conflict(
            "The service or its parameter set was deleted during the run; it was not logged."
        ) from error_
    return run


@dataclass(frozen=True)
class RunRow:
    run: ServiceRunLog
    service_name: str
    parameter_set_name: str | None


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
        select(ServiceRunLog, Service.name, ServiceParameterSet.name)
        .join(Service, Service.id == ServiceRunLog.service_id)
        .outerjoin(ServiceParameterSet, ServiceParameterSet.id == ServiceRunLog.parameter_set_id)
        .order_by(ServiceRunLog.timestamp, ServiceRunLog.id)
    )
    if service_name is not None:
        query = query.where(Service.name == service_name)
    if parameter_set_name is not None:
        query = query.where(ServiceParameterSet.name == parameter_set_name)
    return [
        RunRow(run=row[0], service_name=row[1], parameter_set_name=row[2])
        for row in session.execute(query)
    ]
