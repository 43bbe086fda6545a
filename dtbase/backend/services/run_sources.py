"""What schedules and event triggers share: named rows of a service that start its runs,
with a parameter set or parameters of their own. Functions flush, never commit.

Each keeps its own messages (the wire's: "Schedule already exists.", "Trigger does not
exist."...); the shapes are here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dtbase.backend.errors import AlreadyExists, InvalidInput, Unprocessable
from dtbase.backend.events.triggers_tables import EventTrigger
from dtbase.backend.services.tables import Service, ServiceParameterSet, ServiceSchedule
from dtbase.core.unset import Unset

RunSource = TypeVar("RunSource", ServiceSchedule, EventTrigger)

NO_RUN_TARGET = "Service or parameter set does not exist."


@dataclass(frozen=True)
class Listed(Generic[RunSource]):
    """A schedule or trigger with the names of its service and parameter set."""

    row: RunSource
    service_name: str
    parameter_set_name: str | None


def list_rows(
    session: Session, table: type[RunSource], *, service_name: str | None
) -> list[Listed[RunSource]]:
    """Every row of `table`, oldest first, optionally of one service."""
    query = (
        select(table, Service.name, ServiceParameterSet.name)
        .join(Service, Service.id == table.service_id)
        .outerjoin(ServiceParameterSet, ServiceParameterSet.id == table.parameter_set_id)
        .order_by(table.id)
    )
    if service_name is not None:
        query = query.where(Service.name == service_name)
    return [
        Listed(row=row, service_name=service, parameter_set_name=parameter_set)
        for row, service, parameter_set in session.execute(query)
    ]


def check_one_of(parameter_set_name: str | None, parameters: Any) -> None:
    """422 for a run source given both a parameter set and parameters."""
    if parameter_set_name is not None and parameters is not None:
        raise Unprocessable(
            ["parameters"], "Give either parameter_set_name or parameters, not both"
        )


def add(session: Session, row: RunSource, *, unique: str, exists: str) -> None:
    """Insert `row`: 409 `exists` when its name is taken (the constraint `unique`), 400
    when its service or parameter set was deleted by another request since we read it."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as error:
        if constraint_of(error) == unique:
            raise AlreadyExists(exists) from error
        raise InvalidInput(NO_RUN_TARGET) from error


def rename(session: Session, row: RunSource, new_name: str | Unset | None, *, exists: str) -> None:
    """Give `row` a new name, if one is given (null keeps it): 409 `exists` when taken.
    Also writes the row's other changes, which fail the same way only by their name."""
    try:
        with session.begin_nested():
            if isinstance(new_name, str):
                row.name = new_name
    except IntegrityError as error:
        raise AlreadyExists(exists) from error


def constraint_of(error: IntegrityError) -> str | None:
    """The name of the constraint that `error` broke (PostgreSQL says which)."""
    name: str | None = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
    return name
