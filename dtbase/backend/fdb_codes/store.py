"""Queries on the FDB code registry.

The allocation rules are the FDB bridge's own (`dtbase.fdb.registry.allocate`, plain
Python): the store reads the registry, lets `allocate` add the missing codes and inserts
them. Every write takes one transaction-level advisory lock first, so concurrent
assignments queue up instead of computing the same "next free" code; the unique
constraints are the backstop. Functions flush, never commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dtbase.backend.errors import AlreadyExists, Conflict, InvalidInput
from dtbase.backend.fdb_codes.tables import (
    FdbMeasureCode,
    FdbModelCode,
    FdbScenarioCode,
    FdbSensorCode,
)
from dtbase.fdb.errors import RegistryError
from dtbase.fdb.registry import Codes, MeasureKey, RunCodes, allocate
from dtbase.fdb.runs import SensorLink

# An arbitrary constant: the key of the advisory lock that serialises registry writes.
REGISTRY_LOCK = 0x46_44_42_43  # "FDBC"


def lock(session: Session) -> None:
    """Wait for, and hold until the end of the transaction, the registry's write lock."""
    session.execute(select(func.pg_advisory_xact_lock(REGISTRY_LOCK)))


def codes(session: Session) -> Codes:
    """The whole registry."""
    models = session.scalars(select(FdbModelCode)).all()
    names = {row.id: row.model for row in models}
    scenarios = session.scalars(select(FdbScenarioCode)).all()
    measures = session.scalars(select(FdbMeasureCode)).all()
    sensors = session.scalars(select(FdbSensorCode)).all()
    return Codes(
        {row.model: row.expver for row in models},
        {(names[row.model_code_id], row.scenario): row.member for row in scenarios},
        {(row.name, row.units): row.param for row in measures},
        {SensorLink(row.sensor, row.measure, row.units): row.channel for row in sensors},
    )


def assign(
    session: Session,
    *,
    model: str,
    scenario: str | None,
    measures: Sequence[MeasureKey],
    sensor: SensorLink | None = None,
) -> RunCodes:
    """The codes of a run, inserting those it lacks (idempotent)."""
    lock(session)
    current = codes(session)
    try:
        updated, run = allocate(
            current, model=model, scenario=scenario, measures=measures, sensor=sensor
        )
    except RegistryError as error:
        raise Conflict(str(error)) from error
    if sensor is not None and sensor not in current.sensors:
        session.add(
            FdbSensorCode(
                sensor=sensor.sensor,
                measure=sensor.measure,
                units=sensor.units,
                channel=updated.sensors[sensor],
            )
        )
    if model not in current.models:
        session.add(FdbModelCode(model=model, expver=updated.models[model]))
        _flush(session)
    if scenario is not None and (model, scenario) not in current.scenarios:
        model_row = _model(session, model=model)
        member = updated.scenarios[(model, scenario)]
        session.add(FdbScenarioCode(model_code_id=model_row.id, scenario=scenario, member=member))
    for key, param in updated.measures.items():
        if key not in current.measures:
            session.add(FdbMeasureCode(name=key[0], units=key[1], param=param))
    _flush(session)
    return run


def edit_model_code(
    session: Session, *, model: str, new_model: str | None, expver: str | None
) -> FdbModelCode:
    lock(session)
    row = _model(session, model=model)
    if new_model is not None and new_model != row.model:
        if _find_model(session, model=new_model) is not None:
            raise AlreadyExists(f"Model {new_model!r} has an FDB code already")
        row.model = new_model
    if expver is not None and expver != row.expver:
        owner = session.scalars(
            select(FdbModelCode).where(FdbModelCode.expver == expver)
        ).one_or_none()
        if owner is not None:
            raise Conflict(f"expver {expver!r} is the code of model {owner.model!r}")
        row.expver = expver
    _flush(session)
    return row


def edit_scenario_code(
    session: Session,
    *,
    model: str,
    scenario: str,
    new_scenario: str | None,
    member: int | None,
) -> FdbScenarioCode:
    lock(session)
    model_row = _model(session, model=model)
    row = _find_scenario(session, model_code_id=model_row.id, scenario=scenario)
    if row is None:
        raise InvalidInput(f"Scenario {scenario!r} of model {model!r} has no FDB code")
    if new_scenario is not None and new_scenario != row.scenario:
        if _find_scenario(session, model_code_id=model_row.id, scenario=new_scenario):
            raise AlreadyExists(f"Scenario {new_scenario!r} of {model!r} has an FDB code already")
        row.scenario = new_scenario
    if member is not None and member != row.member:
        owner = session.scalars(
            select(FdbScenarioCode).where(
                FdbScenarioCode.model_code_id == model_row.id, FdbScenarioCode.member == member
            )
        ).one_or_none()
        if owner is not None:
            raise Conflict(
                f"Member {member} of {model!r} is the code of scenario {owner.scenario!r}"
            )
        row.member = member
    _flush(session)
    return row


def edit_measure_code(
    session: Session,
    *,
    name: str,
    units: str,
    new_name: str | None,
    new_units: str | None,
    param: int | None,
) -> FdbMeasureCode:
    lock(session)
    row = _find_measure(session, name=name, units=units)
    if row is None:
        raise InvalidInput(f"Measure {name!r} [{units}] has no FDB code")
    target = (new_name or row.name, row.units if new_units is None else new_units)
    if target != (row.name, row.units):
        if _find_measure(session, name=target[0], units=target[1]) is not None:
            raise AlreadyExists(f"Measure {target[0]!r} [{target[1]}] has an FDB code already")
        row.name, row.units = target
    if param is not None and param != row.param:
        owner = session.scalars(
            select(FdbMeasureCode).where(FdbMeasureCode.param == param)
        ).one_or_none()
        if owner is not None:
            raise Conflict(f"paramId {param} is the code of measure {owner.name!r} [{owner.units}]")
        row.param = param
    _flush(session)
    return row


def _find_model(session: Session, *, model: str) -> FdbModelCode | None:
    return session.scalars(select(FdbModelCode).where(FdbModelCode.model == model)).one_or_none()


def _model(session: Session, *, model: str) -> FdbModelCode:
    row = _find_model(session, model=model)
    if row is None:
        raise InvalidInput(f"Model {model!r} has no FDB code")
    return row


def _find_scenario(
    session: Session, *, model_code_id: int, scenario: str
) -> FdbScenarioCode | None:
    query = select(FdbScenarioCode).where(
        FdbScenarioCode.model_code_id == model_code_id, FdbScenarioCode.scenario == scenario
    )
    return session.scalars(query).one_or_none()


def _find_measure(session: Session, *, name: str, units: str) -> FdbMeasureCode | None:
    query = select(FdbMeasureCode).where(FdbMeasureCode.name == name, FdbMeasureCode.units == units)
    return session.scalars(query).one_or_none()


def _flush(session: Session) -> None:
    """Flush, turning a unique-constraint violation (the backstop) into a 409."""
    try:
        session.flush()
    except IntegrityError as error:
        raise Conflict("The FDB codes would collide; nothing was changed") from error
