"""The /sensor endpoints: DTBase's twelve plus additive edits and deletes of types and
measures. Reads need any logged-in user, writes the role `user` or `admin`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel

from dtbase.backend.auth.deps import Writer
from dtbase.backend.db import SessionDep
from dtbase.backend.routing import documented, protected_router
from dtbase.backend.sensors import store
from dtbase.backend.sensors.tables import SensorMeasure as SensorMeasureRow
from dtbase.schemas.common import Msg, utc_now
from dtbase.schemas.sensors import (
    DeleteSensorTypeRequest,
    EditSensorMeasureRequest,
    EditSensorRequest,
    EditSensorTypeRequest,
    InsertSensorLocationRequest,
    InsertSensorReadingsRequest,
    InsertSensorRequest,
    ListSensorsRequest,
    MeasureRequest,
    Reading,
    Sensor,
    SensorLocation,
    SensorMeasure,
    SensorReadingsRequest,
    SensorRequest,
    SensorType,
)

router: APIRouter = protected_router(prefix="/sensor", tags=["sensor"])


def _given(body: BaseModel, field: str) -> Any:
    """The field's value if the request had the key (even as null), otherwise UNSET."""
    return getattr(body, field) if field in body.model_fields_set else store.UNSET


def _measure(row: SensorMeasureRow) -> SensorMeasure:
    return SensorMeasure(name=row.name, units=row.units, datatype=row.datatype)


@router.post(
    "/insert-sensor-type",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented({409: "Sensor type exists already"}),
)
def insert_sensor_type(body: SensorType, session: SessionDep, _: Writer) -> Msg:
    """Create a sensor type and its measures. Measures that exist (same name and units) are
    reused as they are; the type lists them in the order given."""
    store.insert_type(session, name=body.name, description=body.description, measures=body.measures)
    return Msg(detail="Sensor type inserted")


@router.post(
    "/insert-sensor",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented({400: "Sensor type does not exist", 409: "Sensor exists already"}),
)
def insert_sensor(body: InsertSensorRequest, session: SessionDep, _: Writer) -> Msg:
    store.insert_sensor(
        session,
        type_name=body.type_name,
        unique_identifier=body.unique_identifier,
        name=body.name,
        notes=body.notes,
    )
    return Msg(detail="Sensor inserted")


@router.post(
    "/insert-sensor-location",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented(
        {
            400: "Unknown sensor or schema, or no location matches the coordinates",
            409: "The sensor already has an installation at that time",
        }
    ),
)
def insert_sensor_location(
    body: InsertSensorLocationRequest, session: SessionDep, _: Writer
) -> Msg:
    """Install the sensor at the first location of the schema whose coordinates match the
    given ones (a subset of the schema's identifiers), from `installation_datetime` (now by
    default)."""
    store.insert_sensor_location(
        session,
        unique_identifier=body.unique_identifier,
        schema_name=body.schema_name,
        coordinates=body.coordinates,
        installation_datetime=body.installation_datetime or utc_now(),
    )
    return Msg(detail="Sensor location inserted")


@router.post("/list-sensor-locations", response_model=list[SensorLocation])
def list_sensor_locations(body: SensorRequest, session: SessionDep) -> list[dict[str, Any]]:
    """The sensor's location history, newest installation first (`[]` for an unknown
    sensor). Each entry has the location's `id`, one key per coordinate and
    `installation_datetime`."""
    return store.sensor_locations(session, unique_identifier=body.unique_identifier)


@router.post(
    "/insert-sensor-readings",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented(
        {400: "Unknown sensor, or a measure its type does not have (or has twice)"}
    ),
)
def insert_sensor_readings(
    body: InsertSensorReadingsRequest, session: SessionDep, _: Writer
) -> Msg:
    """Store readings of one measure of one sensor: `readings[i]` taken at `timestamps[i]`.
    Every reading must fit the measure's datatype (422 naming the first that does not).
    Readings already stored for the same timestamp are skipped."""
    store.insert_sensor_readings(
        session,
        unique_identifier=body.unique_identifier,
        measure_name=body.measure_name,
        measure_units=_given(body, "measure_units"),
        readings=body.readings,
        timestamps=body.timestamps,
    )
    return Msg(detail="Sensor readings inserted")


@router.post("/list-sensors", response_model=list[Sensor])
def list_sensors(body: ListSensorsRequest, session: SessionDep) -> list[Sensor]:
    """Sensors, oldest first, of one type if `type_name` is given (`{}` lists them all).
    `limit` and `offset` page through them."""
    sensors = store.list_sensors(
        session, type_name=body.type_name, limit=body.limit, offset=body.offset
    )
    return [
        Sensor(unique_identifier=s.unique_identifier, name=s.name, notes=s.notes) for s in sensors
    ]


@router.get("/list-sensor-types", response_model=list[SensorType])
def list_sensor_types(session: SessionDep) -> list[SensorType]:
    return [
        SensorType(
            name=sensor_type.name,
            description=sensor_type.description,
            measures=[_measure(measure) for measure in measures],
        )
        for sensor_type, measures in store.list_types(session)
    ]


@router.get("/list-measures", response_model=list[SensorMeasure])
def list_measures(session: SessionDep) -> list[SensorMeasure]:
    return [_measure(measure) for measure in store.list_measures(session)]


@router.post(
    "/sensor-readings",
    response_model=list[Reading],
    responses=documented({400: "No measure of that name, or two for the sensor's type"}),
)
def sensor_readings(body: SensorReadingsRequest, session: SessionDep) -> list[Reading]:
    """Readings from `dt_from` to `dt_to` inclusive, oldest first (`[]` for an unknown
    sensor)."""
    readings = store.sensor_readings(
        session,
        unique_identifier=body.unique_identifier,
        measure_name=body.measure_name,
        measure_units=_given(body, "measure_units"),
        dt_from=body.dt_from,
        dt_to=body.dt_to,
    )
    return [Reading(value=value, timestamp=timestamp) for timestamp, value in readings]


@router.post(
    "/delete-sensor",
    response_model=Msg,
    responses=documented({400: "Sensor does not exist", 409: "Model runs refer to the sensor"}),
)
def delete_sensor(body: SensorRequest, session: SessionDep, _: Writer) -> Msg:
    """Delete a sensor with its readings and location history."""
    store.delete_sensor(session, unique_identifier=body.unique_identifier)
    return Msg(detail="Sensor deleted")


@router.post(
    "/delete-sensor-type",
    response_model=Msg,
    responses=documented({400: "Sensor type does not exist", 409: "Sensors of the type exist"}),
)
def delete_sensor_type(body: DeleteSensorTypeRequest, session: SessionDep, _: Writer) -> Msg:
    """Delete a type that has no sensors. Its measures stay."""
    store.delete_type(session, name=body.type_name)
    return Msg(detail="Sensor type deleted")


@router.post(
    "/edit-sensor", response_model=Msg, responses=documented({400: "Sensor does not exist"})
)
def edit_sensor(body: EditSensorRequest, session: SessionDep, _: Writer) -> Msg:
    """Overwrite a sensor's name and notes."""
    store.edit_sensor(
        session, unique_identifier=body.unique_identifier, name=body.name, notes=body.notes
    )
    return Msg(detail="Sensor edited")


@router.post(
    "/edit-sensor-type",
    response_model=Msg,
    responses=documented({400: "Sensor type does not exist", 409: "Sensor type exists already"}),
)
def edit_sensor_type(body: EditSensorTypeRequest, session: SessionDep, _: Writer) -> Msg:
    """Additive: rename a type and/or change its description (fields left out stay)."""
    store.edit_type(
        session,
        name=body.type_name,
        new_name=body.new_name,
        description=_given(body, "description"),
    )
    return Msg(detail="Sensor type edited")


@router.post(
    "/edit-sensor-measure",
    response_model=Msg,
    responses=documented(
        {
            400: "Sensor measure does not exist",
            409: "Sensor measure exists already, or it has readings and the datatype would change",
        }
    ),
)
def edit_sensor_measure(body: EditSensorMeasureRequest, session: SessionDep, _: Writer) -> Msg:
    """Additive: rename a measure, change its units, or its datatype while it has no
    readings (fields left out stay; `new_units: null` removes the units)."""
    store.edit_measure(
        session,
        name=body.name,
        units=body.units,
        new_name=body.new_name,
        new_units=_given(body, "new_units"),
        new_datatype=body.new_datatype,
    )
    return Msg(detail="Sensor measure edited")


@router.post(
    "/delete-sensor-measure",
    response_model=Msg,
    responses=documented(
        {
            400: "Sensor measure does not exist",
            409: "Sensor types, readings or model runs use the measure",
        }
    ),
)
def delete_sensor_measure(body: MeasureRequest, session: SessionDep, _: Writer) -> Msg:
    """Additive: delete a measure that no sensor type, reading or model run uses."""
    store.delete_measure(session, name=body.name, units=body.units)
    return Msg(detail="Sensor measure deleted")
