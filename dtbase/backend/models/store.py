"""Queries on digital-twin models, their scenarios, measures and runs.

Functions flush, never commit: the request's session does that. Lookups that fail raise
`InvalidInput` (400), duplicates `AlreadyExists` (409), deletes blocked by dependants
`Conflict` (409) and values of the wrong type `Unprocessable` (422).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from psycopg import sql
from sqlalchemy import (
    ColumnElement,
    Engine,
    Row,
    Select,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from dtbase.backend.errors import AlreadyExists, Conflict, InvalidInput, Unprocessable
from dtbase.backend.events.record import iso, record
from dtbase.backend.models.tables import (
    Model,
    ModelMeasure,
    ModelProduct,
    ModelRun,
    ModelScenario,
)
from dtbase.backend.sensors.tables import Sensor, SensorMeasure
from dtbase.backend.timeseries import ingest, streaming
from dtbase.backend.values import VALUE_COLUMNS
from dtbase.schemas import models as schemas
from dtbase.schemas.common import utc_now
from dtbase.schemas.events import EventKind
from dtbase.schemas.values import Scalar, ValueDatatype, ValueListError, check_values

DEFAULT_RUN_WINDOW = timedelta(days=7)
VALUE_CHUNK_ROWS = 20_000
_INTEGER_MIN, _INTEGER_MAX = -(2**31), 2**31 - 1  # PostgreSQL integer (ids)

NO_MODEL = "No such model"
NO_SCENARIO = "No such model scenario"
NO_MEASURE = "No such model measure"
NO_RUN = "No such model run"
MODEL_EXISTS = "Model exists already"
SCENARIO_EXISTS = "Scenario exists already"
MEASURE_EXISTS = "Model measure exists already"

# The 422 error type for a value that does not fit a datatype, named as Pydantic does.
_TYPE_ERRORS = {
    ValueDatatype.float: "float_type",
    ValueDatatype.integer: "int_type",
    ValueDatatype.string: "string_type",
    ValueDatatype.boolean: "bool_type",
}


# --- Models -------------------------------------------------------------------------------


def find(session: Session, *, name: str) -> Model | None:
    return session.scalars(select(Model).where(Model.name == name)).one_or_none()


def get(session: Session, *, name: str) -> Model:
    model = find(session, name=name)
    if model is None:
        raise InvalidInput(NO_MODEL)
    return model


def list_all(session: Session) -> Sequence[Model]:
    return session.scalars(select(Model).order_by(Model.id)).all()


def create(session: Session, *, name: str) -> Model:
    model = Model(name=name)
    try:
        with session.begin_nested():
            session.add(model)
    except IntegrityError as error:
        raise AlreadyExists(MODEL_EXISTS) from error
    record(session, EventKind.model_created, {"model": name})
    return model


def rename(session: Session, *, name: str, new_name: str) -> Model:
    model = get(session, name=name)
    try:
        with session.begin_nested():
            model.name = new_name
    except IntegrityError as error:
        raise AlreadyExists(MODEL_EXISTS) from error
    return model


def delete(session: Session, *, name: str) -> None:
    """Delete a model and its scenarios; refused while it has runs."""
    model = get(session, name=name)
    runs = _count(session, ModelRun.model_id == model.id)
    if runs:
        raise Conflict(
            f"Model '{name}' has {_runs(runs)}: delete them first (/model/delete-model-run)"
        )
    _delete_unless_used(session, model, f"Model '{name}' has model runs")
    record(session, EventKind.model_deleted, {"model": name})


# --- Scenarios ----------------------------------------------------------------------------


def find_scenario(
    session: Session, *, model_id: int, description: str | None
) -> ModelScenario | None:
    query = select(ModelScenario).where(
        ModelScenario.model_id == model_id,
        ModelScenario.description.is_not_distinct_from(description),
    )
    return session.scalars(query).one_or_none()


def get_scenario(session: Session, *, model_name: str, description: str | None) -> ModelScenario:
    model = get(session, name=model_name)
    scenario = find_scenario(session, model_id=model.id, description=description)
    if scenario is None:
        raise InvalidInput(NO_SCENARIO)
    return scenario


def list_scenarios(session: Session) -> list[schemas.ModelScenario]:
    query = (
        select(Model.name, ModelScenario.description)
        .join(Model, Model.id == ModelScenario.model_id)
        .order_by(ModelScenario.id)
    )
    return [
        schemas.ModelScenario(model_name=name, description=description)
        for name, description in session.execute(query)
    ]


def create_scenario(session: Session, *, model_name: str, description: str | None) -> ModelScenario:
    model = get(session, name=model_name)
    return _add_scenario(session, model_id=model.id, description=description)


def _add_scenario(session: Session, *, model_id: int, description: str | None) -> ModelScenario:
    scenario = ModelScenario(model_id=model_id, description=description)
    try:
        with session.begin_nested():
            session.add(scenario)
    except IntegrityError as error:
        raise AlreadyExists(SCENARIO_EXISTS) from error
    return scenario


def edit_scenario(
    session: Session, *, model_name: str, description: str | None, new_description: str | None
) -> ModelScenario:
    scenario = get_scenario(session, model_name=model_name, description=description)
    try:
        with session.begin_nested():
            scenario.description = new_description
    except IntegrityError as error:
        raise AlreadyExists(SCENARIO_EXISTS) from error
    return scenario


def delete_scenario(session: Session, *, model_name: str, description: str | None) -> None:
    """Delete a scenario; refused while runs use it."""
    scenario = get_scenario(session, model_name=model_name, description=description)
    runs = _count(session, ModelRun.scenario_id == scenario.id)
    if runs:
        raise Conflict(
            f"Model scenario {description!r} of '{model_name}' is used by {_runs(runs)}: "
            "delete them first (/model/delete-model-run)"
        )
    _delete_unless_used(session, scenario, "Model scenario is used by model runs")


# --- Measures -----------------------------------------------------------------------------


def list_measures(session: Session) -> Sequence[ModelMeasure]:
    return session.scalars(select(ModelMeasure).order_by(ModelMeasure.id)).all()


def create_measure(
    session: Session, *, name: str, units: str, datatype: ValueDatatype
) -> ModelMeasure:
    measure = ModelMeasure(name=name, units=units, datatype=datatype)
    try:
        with session.begin_nested():
            session.add(measure)
    except IntegrityError as error:
        raise AlreadyExists(MEASURE_EXISTS) from error
    return measure


def get_measure(session: Session, *, name: str, units: str | None = None) -> ModelMeasure:
    """The measure with this name (and units, if given).

    Measures are unique on (name, units), so without units a shared name is ambiguous:
    400 naming the units to choose from (decision 3).
    """
    query = select(ModelMeasure).where(ModelMeasure.name == name)
    if units is not None:
        query = query.where(ModelMeasure.units == units)
    measures = session.scalars(query.order_by(ModelMeasure.id)).all()
    if not measures:
        if units is None:
            raise InvalidInput(f"{NO_MEASURE}: '{name}'")
        raise InvalidInput(f"{NO_MEASURE}: '{name}' in '{units}'")
    if len(measures) > 1:
        choices = ", ".join(repr(measure.units) for measure in measures)
        raise InvalidInput(
            f"Several model measures are called '{name}': give `units`, one of {choices}"
        )
    return measures[0]


def edit_measure(
    session: Session,
    *,
    name: str,
    units: str,
    new_name: str | None = None,
    new_units: str | None = None,
) -> ModelMeasure:
    measure = get_measure(session, name=name, units=units)
    try:
        with session.begin_nested():
            if new_name is not None:
                measure.name = new_name
            if new_units is not None:
                measure.units = new_units
    except IntegrityError as error:
        raise AlreadyExists(MEASURE_EXISTS) from error
    return measure


def delete_measures(session: Session, *, name: str, units: str | None = None) -> None:
    """Delete every measure with this name (only the one in `units`, if given).

    Refused while runs have products of any of them.
    """
    query = select(ModelMeasure).where(ModelMeasure.name == name)
    if units is not None:
        query = query.where(ModelMeasure.units == units)
    measures = session.scalars(query).all()
    if not measures:
        raise InvalidInput(NO_MEASURE)
    run_ids = session.scalars(
        select(ModelProduct.run_id)
        .where(ModelProduct.measure_id.in_([measure.id for measure in measures]))
        .distinct()
        .order_by(ModelProduct.run_id)
    ).all()
    if run_ids:
        listed = ", ".join(str(run_id) for run_id in run_ids)
        raise Conflict(
            f"Model measure '{name}' is used by model runs ({listed}): "
            "delete them first (/model/delete-model-run)"
        )
    for measure in measures:
        _delete_unless_used(session, measure, f"Model measure '{name}' is used by model runs")


# --- Runs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Output:
    measure: ModelMeasure
    timestamps: list[datetime]
    values: list[Scalar]


def create_run(session: Session, *, run: schemas.InsertModelRunRequest) -> ModelRun:
    """Insert a run, its products and their values; check everything first."""
    model = get(session, name=run.model_name)
    scenario = find_scenario(session, model_id=model.id, description=run.scenario_description)
    if scenario is None and not run.create_scenario:
        raise InvalidInput(f"{NO_SCENARIO} (set create_scenario to true to create it)")
    sensor_id = None
    if run.sensor_unique_id is not None:
        sensor_id = _sensor_id(session, unique_identifier=run.sensor_unique_id)
    sensor_measure_id = None
    if run.sensor_measure is not None:
        sensor_measure_id = _sensor_measure_id(
            session, name=run.sensor_measure.name, units=run.sensor_measure.units
        )
    outputs = _checked_outputs(session, run.measures_and_values)
    if scenario is None:
        scenario = _add_scenario(session, model_id=model.id, description=run.scenario_description)
    model_run = ModelRun(
        model_id=model.id,
        scenario_id=scenario.id,
        sensor_id=sensor_id,
        sensor_measure_id=sensor_measure_id,
        time_created=run.time_created or utc_now(),
    )
    try:
        with session.begin_nested():
            session.add(model_run)
    except IntegrityError as error:
        raise AlreadyExists(
            "Model run exists already (same model, scenario, time_created, sensor and measure)"
        ) from error
    for output in outputs:
        product = ModelProduct(run_id=model_run.id, measure_id=output.measure.id)
        session.add(product)
        session.flush()
        insert_values(
            session,
            product_id=product.id,
            measure=output.measure,
            timestamps=output.timestamps,
            values=output.values,
        )
    record(session, EventKind.model_run_stored, _run_stored(run, model_run, outputs))
    return model_run


def _run_stored(
    run: schemas.InsertModelRunRequest, model_run: ModelRun, outputs: Sequence[_Output]
) -> dict[str, Any]:
    """A `model_run.stored` event's metadata: the run and the span and count of its values."""
    firsts = [min(output.timestamps) for output in outputs if output.timestamps]
    lasts = [max(output.timestamps) for output in outputs if output.timestamps]
    return {
        "model": run.model_name,
        "scenario": run.scenario_description,
        "run": model_run.id,
        "sensor": [] if run.sensor_unique_id is None else [run.sensor_unique_id],
        "measure": [output.measure.name for output in outputs],
        "first": iso(min(firsts)) if firsts else None,
        "last": iso(max(lasts)) if lasts else None,
        "count": sum(len(output.timestamps) for output in outputs),
    }


def _checked_outputs(session: Session, entries: Sequence[schemas.MeasureValues]) -> list[_Output]:
    """Each entry's measure, and its values as stored: 400 or 422 naming the entry."""
    outputs: list[_Output] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        measure = get_measure(session, name=entry.measure_name, units=entry.units)
        if measure.name in seen:
            raise Unprocessable(
                ("measures_and_values", index, "measure_name"),
                f"entry {seen[measure.name]} already gives values of a measure called "
                f"'{measure.name}': a run has one output per measure name",
                entry.measure_name,
            )
        seen[measure.name] = index
        try:
            values = check_values(measure.datatype, entry.values)
        except ValueListError as error:
            raise Unprocessable(
                ("measures_and_values", index, "values", error.index),
                f"Model measure '{measure.name}' holds {measure.datatype} values: {error.reason}",
                error.value,
                kind=_TYPE_ERRORS[measure.datatype],
            ) from error
        outputs.append(_Output(measure, list(entry.timestamps), values))
    return outputs


def insert_values(
    session: Session,
    *,
    product_id: int,
    measure: ModelMeasure,
    timestamps: Sequence[datetime],
    values: Sequence[Scalar],
    overwrite: bool = False,
) -> None:
    """Write one product's values in one statement (see `timeseries.ingest`); repeated
    timestamps are skipped (the first stays) unless `overwrite` (the last wins).

    The values must already be checked against the measure's datatype (`check_value`).
    """
    if len(timestamps) != len(values):
        raise ValueError("timestamps and values have different lengths")
    if not timestamps:
        return
    ingest.insert_series(
        session,
        table="model_value",
        prefix_keys=("product_id",),
        datatype=measure.datatype,
        series=[ingest.Rows((product_id,), timestamps, values)],
        overwrite=overwrite,
    )


def list_runs(
    session: Session,
    *,
    model_name: str,
    dt_from: datetime | None = None,
    dt_to: datetime | None = None,
    scenario: str | None = None,
) -> list[schemas.ModelRun]:
    """The model's runs created in [dt_from, dt_to], default the last 7 days, oldest first."""
    now = utc_now()
    dt_from = dt_from if dt_from is not None else now - DEFAULT_RUN_WINDOW
    dt_to = dt_to if dt_to is not None else now
    query = (
        _run_query()
        .where(Model.name == model_name, ModelRun.time_created.between(dt_from, dt_to))
        .order_by(ModelRun.time_created, ModelRun.id)
    )
    if scenario is not None:
        query = query.where(ModelScenario.description == scenario)
    return [_run_item(row) for row in session.execute(query)]


def run_sensor_measure(session: Session, *, run_id: int) -> schemas.ModelRunSensorMeasure:
    row = None
    if _is_row_id(run_id):
        row = session.execute(_run_query().where(ModelRun.id == run_id)).one_or_none()
    if row is None:
        raise InvalidInput(NO_RUN)
    item = _run_item(row)
    return schemas.ModelRunSensorMeasure(
        sensor_unique_id=item.sensor_unique_id, sensor_measure=item.sensor_measure
    )


def stream_run_values(
    engine: Engine, *, run_id: int, chunk_rows: int = VALUE_CHUNK_ROWS
) -> Iterator[bytes]:
    """The values of a run's products, in pieces: `{"measure name": [{"value", "timestamp"}...]}`.

    One repeatable-read snapshot; each product's values come through a server-side cursor
    `chunk_rows` at a time, so memory is bounded by the chunk, not by the run.
    """
    if not _is_row_id(run_id):
        yield b"{}"
        return
    with streaming.own_connection(engine) as connection:
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        products = connection.execute(
            "SELECT p.id, m.name, m.datatype FROM model_product p"
            " JOIN model_measure m ON m.id = p.measure_id WHERE p.run_id = %s ORDER BY p.id",
            (run_id,),
        ).fetchall()
        opening = b"{"
        for product_id, name, datatype in products:
            yield opening + orjson.dumps(name) + b":["
            opening = b"],"
            column = sql.Identifier(VALUE_COLUMNS[ValueDatatype(datatype)])
            query = sql.SQL(
                'SELECT "timestamp", {} FROM model_value WHERE product_id = %s ORDER BY "timestamp"'
            ).format(column)
            separator = b""
            for rows in streaming.server_side_chunks(connection, query, (product_id,), chunk_rows):
                yield separator + streaming.json_items(rows)
                separator = b","
        yield b"{}" if opening == b"{" else b"]}"


def delete_run(session: Session, *, run_id: int) -> None:
    """Delete a run with its products and their values."""
    run = session.get(ModelRun, run_id) if _is_row_id(run_id) else None
    if run is None:
        raise InvalidInput(NO_RUN)
    session.delete(run)
    session.flush()


# --- Helpers ------------------------------------------------------------------------------


_RunSensorMeasure = aliased(SensorMeasure, name="run_sensor_measure")
# A run, its model's name, scenario description, sensor and sensor measure (outer joins).
_RunSelect = Select[ModelRun, str, str | None, str | None, str | None, str | None]
_RunRow = Row[ModelRun, str, str | None, str | None, str | None, str | None]


def _run_query() -> _RunSelect:
    query = (
        select(
            ModelRun,
            Model.name,
            ModelScenario.description,
            Sensor.unique_identifier,
            _RunSensorMeasure.name,
            _RunSensorMeasure.units,
        )
        .join(Model, Model.id == ModelRun.model_id)
        .outerjoin(ModelScenario, ModelScenario.id == ModelRun.scenario_id)
        .outerjoin(Sensor, Sensor.id == ModelRun.sensor_id)
        .outerjoin(_RunSensorMeasure, _RunSensorMeasure.id == ModelRun.sensor_measure_id)
    )
    return cast(_RunSelect, query)


def _run_item(row: _RunRow) -> schemas.ModelRun:
    run, model_name, description, sensor_unique_id, measure_name, measure_units = row
    sensor_measure = None
    if measure_name is not None:  # The outer join found the run's sensor measure.
        sensor_measure = schemas.SensorMeasureIdentifier(name=measure_name, units=measure_units)
    return schemas.ModelRun(
        id=run.id,
        model_id=run.model_id,
        model_name=model_name,
        scenario_id=run.scenario_id,
        scenario_description=description,
        time_created=run.time_created,
        sensor_unique_id=sensor_unique_id,
        sensor_measure=sensor_measure,
    )


def _sensor_id(session: Session, *, unique_identifier: str) -> int:
    sensor_id = session.scalar(
        select(Sensor.id).where(Sensor.unique_identifier == unique_identifier)
    )
    if sensor_id is None:
        raise InvalidInput("No such sensor")
    return sensor_id


def _sensor_measure_id(session: Session, *, name: str, units: str | None) -> int:
    measure_id = session.scalar(
        select(SensorMeasure.id).where(
            SensorMeasure.name == name, SensorMeasure.units.is_not_distinct_from(units)
        )
    )
    if measure_id is None:
        raise InvalidInput("No such sensor measure")
    return measure_id


def _delete_unless_used(session: Session, row: object, blocked: str) -> None:
    """Delete a row whose dependants were checked; a run added meanwhile still blocks it."""
    try:
        with session.begin_nested():
            session.delete(row)
    except IntegrityError as error:
        raise Conflict(blocked) from error


def _is_row_id(value: int) -> bool:
    """Ids are PostgreSQL integers: a number out of their range names no row."""
    return _INTEGER_MIN <= value <= _INTEGER_MAX


def _count(session: Session, criterion: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(ModelRun).where(criterion)) or 0


def _runs(count: int) -> str:
    return "1 model run" if count == 1 else f"{count} model runs"
