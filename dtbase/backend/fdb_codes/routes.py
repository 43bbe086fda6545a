"""The /fdb router: the registry of GRIB codes the FDB bridge exports model runs under.

Additive to DTBase's API. Anyone signed in may read the registry; writers get codes
assigned (idempotent, atomic); only admins edit codes, since an edit changes what data
already in an FDB means.
"""

from __future__ import annotations

from fastapi import APIRouter

from dtbase.backend.auth.deps import Admin, Writer
from dtbase.backend.db import SessionDep
from dtbase.backend.fdb_codes import store
from dtbase.backend.routing import documented, protected_router
from dtbase.fdb.registry import Codes
from dtbase.fdb.runs import SensorLink
from dtbase.schemas.common import Msg
from dtbase.schemas.fdb import (
    AssignCodesRequest,
    EditMeasureCodeRequest,
    EditModelCodeRequest,
    EditScenarioCodeRequest,
    FdbCodes,
    MeasureCode,
    ModelCode,
    RunCodes,
    ScenarioCode,
    SensorCode,
)

router: APIRouter = protected_router(prefix="/fdb", tags=["fdb"])


@router.get("/list-codes", response_model=FdbCodes)
def list_codes(session: SessionDep) -> FdbCodes:
    """The whole code registry: models, scenarios and measures, each sorted by name."""
    return to_wire(store.codes(session))


@router.post(
    "/assign-codes",
    response_model=RunCodes,
    responses=documented({409: "No free code is left"}),
)
def assign_codes(body: AssignCodesRequest, session: SessionDep, _: Writer) -> RunCodes:
    """The codes of a run; those it lacks are assigned first, in one transaction.

    Idempotent: asking again returns the same codes and changes nothing. A measure gets
    its standard paramId where it has one (e.g. temperature in K: 167) and that id is free;
    a sensor link gets the next free channel.
    """
    measures = [(measure.name, measure.units) for measure in body.measures]
    sensor = None
    if body.sensor is not None:
        sensor = SensorLink(body.sensor.sensor, body.sensor.measure, body.sensor.units)
    codes = store.assign(
        session, model=body.model, scenario=body.scenario, measures=measures, sensor=sensor
    )
    return RunCodes(
        model=body.model,
        scenario=body.scenario,
        expver=codes.expver,
        member=codes.member,
        measures=[
            MeasureCode(name=name, units=units, param=param)
            for (name, units), param in sorted(codes.params.items())
        ],
        channel=codes.channel,
    )


@router.post(
    "/edit-model-code",
    response_model=Msg,
    responses=documented(
        {
            400: "The model has no FDB code",
            409: "The new name has a code already, or the expver is taken",
        }
    ),
)
def edit_model_code(body: EditModelCodeRequest, session: SessionDep, _: Admin) -> Msg:
    """Rename the model of a code (after renaming the model) and/or change its expver."""
    store.edit_model_code(session, model=body.model, new_model=body.new_model, expver=body.expver)
    return Msg(detail="FDB model code edited")


@router.post(
    "/edit-scenario-code",
    response_model=Msg,
    responses=documented(
        {
            400: "The model or the scenario has no FDB code",
            409: "The new name has a code already, or the member is taken",
        }
    ),
)
def edit_scenario_code(body: EditScenarioCodeRequest, session: SessionDep, _: Admin) -> Msg:
    """Rename the scenario of a member number and/or change the number."""
    store.edit_scenario_code(
        session,
        model=body.model,
        scenario=body.scenario,
        new_scenario=body.new_scenario,
        member=body.member,
    )
    return Msg(detail="FDB scenario code edited")


@router.post(
    "/edit-measure-code",
    response_model=Msg,
    responses=documented(
        {
            400: "The measure has no FDB code",
            409: "The new name and units have a code already, or the paramId is taken",
        }
    ),
)
def edit_measure_code(body: EditMeasureCodeRequest, session: SessionDep, _: Admin) -> Msg:
    """Rename the measure of a paramId, change its units and/or the paramId."""
    store.edit_measure_code(
        session,
        name=body.name,
        units=body.units,
        new_name=body.new_name,
        new_units=body.new_units,
        param=body.param,
    )
    return Msg(detail="FDB measure code edited")


def to_wire(codes: Codes) -> FdbCodes:
    return FdbCodes(
        models=[ModelCode(model=m, expver=e) for m, e in sorted(codes.models.items())],
        scenarios=[
            ScenarioCode(model=m, scenario=s, member=n)
            for (m, s), n in sorted(codes.scenarios.items())
        ],
        measures=[
            MeasureCode(name=name, units=units, param=param)
            for (name, units), param in sorted(codes.measures.items())
        ],
        sensors=[
            SensorCode(sensor=link.sensor, measure=link.measure, units=link.units, channel=c)
            for link, c in sorted(codes.sensors.items())
        ],
    )
