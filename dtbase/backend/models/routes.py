"""The /model router: digital-twin models, their scenarios, measures and runs (API.md 2.4)."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import Engine

from dtbase.backend.auth.deps import Writer
from dtbase.backend.db import SessionDep
from dtbase.backend.ingest_route import post_ingest
from dtbase.backend.models import store
from dtbase.backend.routing import documented, protected_router
from dtbase.schemas.common import Msg
from dtbase.schemas.models import (
    DeleteModelMeasureRequest,
    EditModelMeasureRequest,
    EditModelRequest,
    EditModelScenarioRequest,
    InsertModelRunRequest,
    ListModelRunsRequest,
    Model,
    ModelMeasure,
    ModelRun,
    ModelRunRequest,
    ModelRunSensorMeasure,
    ModelRunValues,
    ModelScenario,
    NewModel,
    ScenarioRequest,
)

router: APIRouter = protected_router(prefix="/model", tags=["model"])
# The 400 of a scenario: its model or itself is missing.
NO_SCENARIO = "No such model or scenario"


# --- Models -------------------------------------------------------------------------------


@router.post(
    "/insert-model",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented({409: store.MODEL_EXISTS}),
)
def insert_model(body: NewModel, session: SessionDep, _: Writer) -> Msg:
    """Create a model."""
    store.create(session, name=body.name)
    return Msg(detail="Model inserted")


@router.get("/list-models", response_model=list[Model])
def list_models(session: SessionDep) -> list[Model]:
    """Every model, oldest first."""
    return [Model(name=model.name) for model in store.list_all(session)]


@router.post(
    "/delete-model",
    response_model=Msg,
    responses=documented({400: store.NO_MODEL, 409: "The model has runs"}),
)
def delete_model(body: Model, session: SessionDep, _: Writer) -> Msg:
    """Delete a model and its scenarios. Refused while the model has runs."""
    store.delete(session, name=body.name)
    return Msg(detail="Model deleted")


@router.post(
    "/edit-model",
    response_model=Msg,
    responses=documented({400: store.NO_MODEL, 409: store.MODEL_EXISTS}),
)
def edit_model(body: EditModelRequest, session: SessionDep, _: Writer) -> Msg:
    """Rename a model (an addition to DTBase's API)."""
    store.rename(session, name=body.name, new_name=body.new_name)
    return Msg(detail="Model edited")


# --- Scenarios ----------------------------------------------------------------------------


@router.post(
    "/insert-model-scenario",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented({400: store.NO_MODEL, 409: store.SCENARIO_EXISTS}),
)
def insert_model_scenario(body: ScenarioRequest, session: SessionDep, _: Writer) -> Msg:
    """Add a scenario to a model. Descriptions are unique per model, null included."""
    store.create_scenario(session, model_name=body.model_name, description=body.description)
    return Msg(detail="Model scenario inserted")


@router.get("/list-model-scenarios", response_model=list[ModelScenario])
def list_model_scenarios(session: SessionDep) -> list[ModelScenario]:
    """Every scenario of every model, oldest first."""
    return store.list_scenarios(session)


@router.post(
    "/delete-model-scenario",
    response_model=Msg,
    responses=documented({400: NO_SCENARIO, 409: "Runs use the scenario"}),
)
def delete_model_scenario(body: ScenarioRequest, session: SessionDep, _: Writer) -> Msg:
    """Delete a scenario. Refused while runs use it."""
    store.delete_scenario(session, model_name=body.model_name, description=body.description)
    return Msg(detail="Model scenario deleted")


@router.post(
    "/edit-model-scenario",
    response_model=Msg,
    responses=documented({400: NO_SCENARIO, 409: store.SCENARIO_EXISTS}),
)
def edit_model_scenario(body: EditModelScenarioRequest, session: SessionDep, _: Writer) -> Msg:
    """Change a scenario's description (an addition to DTBase's API)."""
    store.edit_scenario(
        session,
        model_name=body.model_name,
        description=body.description,
        new_description=body.new_description,
    )
    return Msg(detail="Model scenario edited")


# --- Measures -----------------------------------------------------------------------------


@router.post(
    "/insert-model-measure",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented({409: store.MEASURE_EXISTS}),
)
def insert_model_measure(body: ModelMeasure, session: SessionDep, _: Writer) -> Msg:
    """Create a measure that models can output. Measures are unique on (name, units)."""
    store.create_measure(session, name=body.name, units=body.units, datatype=body.datatype)
    return Msg(detail="Model measure inserted")


@router.get("/list-model-measures", response_model=list[ModelMeasure])
def list_model_measures(session: SessionDep) -> list[ModelMeasure]:
    """Every model measure, oldest first."""
    return [
        ModelMeasure(name=measure.name, units=measure.units, datatype=measure.datatype)
        for measure in store.list_measures(session)
    ]


@router.post(
    "/delete-model-measure",
    response_model=Msg,
    responses=documented({400: store.NO_MEASURE, 409: "Runs use the measure"}),
)
def delete_model_measure(body: DeleteModelMeasureRequest, session: SessionDep, _: Writer) -> Msg:
    """Delete every measure with this name (or only the one in `units`). Refused while runs
    use any of them."""
    store.delete_measures(session, name=body.name, units=body.units)
    return Msg(detail="Model measure deleted")


@router.post(
    "/edit-model-measure",
    response_model=Msg,
    responses=documented({400: store.NO_MEASURE, 409: store.MEASURE_EXISTS}),
)
def edit_model_measure(body: EditModelMeasureRequest, session: SessionDep, _: Writer) -> Msg:
    """Rename a measure or change its units; its datatype stays (an addition to DTBase's
    API)."""
    store.edit_measure(
        session,
        name=body.name,
        units=body.units,
        new_name=body.new_name,
        new_units=body.new_units,
    )
    return Msg(detail="Model measure edited")


# --- Runs ---------------------------------------------------------------------------------


@post_ingest(
    router,
    "/insert-model-run",
    InsertModelRunRequest,
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented(
        {
            400: "No such model, scenario, sensor, sensor measure or model measure, "
            "or a measure name shared by several measures without `units`",
            409: "Model run exists already "
            "(same model, scenario, time_created, sensor and measure)",
        }
    ),
)
def insert_model_run(body: InsertModelRunRequest, session: SessionDep, _: Writer) -> Msg:
    """Store a run: one output per measure, each value checked against the measure's
    datatype. Repeated timestamps within an output are skipped. A run is identified by its
    model, scenario, time_created, sensor and sensor measure, so runs of one time for
    several sensors are all stored."""
    store.create_run(session, run=body)
    return Msg(detail="Model run inserted")


@router.post("/list-model-runs", response_model=list[ModelRun])
def list_model_runs(body: ListModelRunsRequest, session: SessionDep) -> list[ModelRun]:
    """A model's runs created between `dt_from` and `dt_to` (inclusive; default the last 7
    days), oldest first. An unknown model has no runs."""
    return store.list_runs(
        session,
        model_name=body.model_name,
        dt_from=body.dt_from,
        dt_to=body.dt_to,
        scenario=body.scenario,
    )


@router.post("/get-model-run", response_model=ModelRunValues)
def get_model_run(body: ModelRunRequest, session: SessionDep) -> Response:
    """A run's outputs keyed by measure name, points in timestamp order; `{}` when there is
    no such run. Streamed."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    chunks = store.stream_run_values(engine, run_id=body.run_id)
    return StreamingResponse(chunks, media_type="application/json")


@router.post(
    "/get-model-run-sensor-measure",
    response_model=ModelRunSensorMeasure,
    responses=documented({400: store.NO_RUN}),
)
def get_model_run_sensor_measure(
    body: ModelRunRequest, session: SessionDep
) -> ModelRunSensorMeasure:
    """The sensor and sensor measure a run refers to, if any."""
    return store.run_sensor_measure(session, run_id=body.run_id)


@router.post(
    "/delete-model-run",
    response_model=Msg,
    responses=documented({400: store.NO_RUN}),
)
def delete_model_run(body: ModelRunRequest, session: SessionDep, _: Writer) -> Msg:
    """Delete a run with its outputs (an addition to DTBase's API)."""
    store.delete_run(session, run_id=body.run_id)
    return Msg(detail="Model run deleted")
