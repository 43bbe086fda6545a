"""The /sensor endpoints: DTBase's twelve plus additive edits and deletes of types and
measures. Reads need any logged-in user, writes the role `user` or `admin`."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dtbase.backend.app_state import AsyncReadsDep
from dtbase.backend.auth.deps import Writer
from dtbase.backend.db import SessionDep
from dtbase.backend.errors import InvalidInput, Unprocessable
from dtbase.backend.ingest_route import post_ingest
from dtbase.backend.one_thread import awaits_reads, reads_only
from dtbase.backend.routing import documented, protected_router
from dtbase.backend.sensors import csv_upload, readings, store
from dtbase.backend.sensors.tables import SensorMeasure as SensorMeasureRow
from dtbase.backend.timeseries import streaming
from dtbase.core.timestamps import floor_to
from dtbase.core.unset import sent
from dtbase.schemas.common import Msg, utc_now
from dtbase.schemas.sensors import (
    OVERWRITE_DESCRIPTION,
    Aggregate,
    CsvUploadReport,
    DeleteSensorTypeRequest,
    DownsampledReading,
    EditSensorMeasureRequest,
    EditSensorRequest,
    EditSensorTypeRequest,
    ExportSensorReadingsRequest,
    InsertReadingsBulkRequest,
    InsertSensorLocationRequest,
    InsertSensorReadingsRequest,
    InsertSensorRequest,
    LatestReading,
    ListSensorsRequest,
    MeasureRequest,
    NewSensorType,
    Reading,
    ReadingsRow,
    ReadingsTable,
    Sensor,
    SensorDetails,
    SensorLocation,
    SensorMeasure,
    SensorReadingsRequest,
    SensorReadingsTableRequest,
    SensorRequest,
    SensorType,
)

router: APIRouter = protected_router(prefix="/sensor", tags=["sensor"])

# What the 400 of a series (a sensor's measure) says, whichever part is missing.
NO_SERIES = "Unknown sensor, or a measure its type does not have (or has twice)"
NO_MEASURE_OF_SENSOR = "No measure of that name, or two for the sensor's type"


def _measure(row: SensorMeasureRow) -> SensorMeasure:
    return SensorMeasure(name=row.name, units=row.units, datatype=row.datatype)


@router.post(
    "/insert-sensor-type",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented({409: store.TYPE_EXISTS}),
)
def insert_sensor_type(body: NewSensorType, session: SessionDep, _: Writer) -> Msg:
    """Create a sensor type and its measures. Measures that exist (same name and units) are
    reused as they are; the type lists them in the order given."""
    store.insert_type(session, name=body.name, description=body.description, measures=body.measures)
    return Msg(detail="Sensor type inserted")


@router.post(
    "/insert-sensor",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented({400: store.NO_SUCH_TYPE, 409: store.SENSOR_EXISTS}),
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


@post_ingest(
    router,
    "/insert-sensor-readings",
    InsertSensorReadingsRequest,
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented({400: NO_SERIES}),
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
        measure_units=sent(body, "measure_units"),
        readings=body.readings,
        timestamps=body.timestamps,
        overwrite=body.overwrite,
    )
    return Msg(detail=readings.READINGS_INSERTED)


@router.post("/list-sensors", response_model=list[Sensor])
@awaits_reads
async def list_sensors(body: ListSensorsRequest, reads: AsyncReadsDep) -> Response:
    """Sensors, oldest first, of one type if `type_name` is given (`{}` lists them all).
    `limit` and `offset` page through them."""
    rows = await store.list_sensors(
        reads, type_name=body.type_name, limit=body.limit, offset=body.offset
    )
    # Written straight from the rows, as FastAPI would write `list[Sensor]` (the same
    # bytes, `test_list_sensors_answer_is_what_the_model_writes`), without building and
    # then checking a model per sensor: one of the busiest requests.
    sensors = [{"unique_identifier": u, "name": name, "notes": notes} for u, name, notes in rows]
    return Response(orjson.dumps(sensors), media_type="application/json")


@router.post("/list-sensors-details", response_model=list[SensorDetails])
def list_sensors_details(body: ListSensorsRequest, session: SessionDep) -> list[SensorDetails]:
    """Additive: the sensors `list-sensors` lists with the same body, each with its type's
    name and its newest installation (`location`, null if never installed)."""
    return store.sensor_details(
        session, type_name=body.type_name, limit=body.limit, offset=body.offset
    )


@router.post(
    "/get-sensor",
    response_model=SensorDetails,
    responses=documented({400: store.NO_SUCH_SENSOR}),
)
def get_sensor(body: SensorRequest, session: SessionDep) -> SensorDetails:
    """Additive: one sensor as `list-sensors-details` describes it."""
    found = store.sensor_details(session, unique_identifier=body.unique_identifier)
    if not found:
        raise InvalidInput(store.NO_SUCH_SENSOR)
    return found[0]


@router.post("/list-latest-readings", response_model=list[LatestReading])
def list_latest_readings(body: ListSensorsRequest, session: SessionDep) -> list[LatestReading]:
    """Additive: the newest reading of every measure of the sensors `list-sensors` would
    list with the same body (value and timestamp `null` for a measure without readings),
    by sensor then measure name: a dashboard's "latest values" in one request."""
    return store.latest_readings(
        session, type_name=body.type_name, limit=body.limit, offset=body.offset
    )


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
    response_model=list[Reading] | list[DownsampledReading],
    # A 422 (bad fields, or an aggregate the measure's datatype does not allow) has
    # FastAPI's validation-error shape, which it documents by itself.
    responses=documented({400: NO_MEASURE_OF_SENSOR}),
)
@reads_only
def sensor_readings(body: SensorReadingsRequest, session: SessionDep) -> Response:
    """Readings from `dt_from` to `dt_to` inclusive, oldest first (`[]` for an unknown
    sensor), streamed.

    Additive: with `max_points` and/or `bucket_seconds` the answer is downsampled in the
    database: one `{"timestamp": bucket start, "value": aggregate, "min", "max", "count"}`
    per non-empty bucket (`min`/`max` for numeric measures only)."""
    found = store.find_series(
        session,
        unique_identifier=body.unique_identifier,
        measure_name=body.measure_name,
        measure_units=sent(body, "measure_units"),
    )
    if not body.downsampled:
        if body.aggregate is not None:
            raise Unprocessable(
                ["aggregate"], "aggregate needs max_points or bucket_seconds", body.aggregate
            )
        if found is None:
            return Response(b"[]", media_type="application/json")
        sensor, measure = found
        first, rest = readings.readings_json(
            session,
            _engine(session),
            sensor_id=sensor.id,
            measure_id=measure.id,
            datatype=measure.datatype,
            dt_from=body.dt_from,
            dt_to=body.dt_to,
        )
        if rest is None:
            return Response(first, media_type="application/json")
        return StreamingResponse(itertools.chain([first], rest), media_type="application/json")
    aggregate: Aggregate = body.aggregate or "avg"
    if found is None:
        return Response(b"[]", media_type="application/json")
    sensor, measure = found
    if measure.datatype not in readings.NUMERIC and aggregate not in readings.ORDERED_ONLY:
        raise Unprocessable(
            ["aggregate"],
            f"Sensor measure '{measure.name}' holds {measure.datatype} values: "
            "use first, last or count",
            aggregate,
        )
    try:
        width = readings.bucket_width(
            dt_from=body.dt_from,
            dt_to=body.dt_to,
            max_points=body.max_points,
            bucket_seconds=body.bucket_seconds,
        )
    except OverflowError:
        raise Unprocessable(
            ["bucket_seconds"], "bucket_seconds is too large", body.bucket_seconds
        ) from None
    try:
        floor_to(body.dt_from, width)
    except OverflowError:
        raise Unprocessable(
            ["dt_from"], "The first bucket would start before year 1", body.dt_from.isoformat()
        ) from None
    # End the request's transaction (reads only) to give its connection back: downsample
    # takes one of its own, and a request must never hold two (pool exhaustion).
    session.commit()
    items = readings.downsample(
        _engine(session),
        sensor_id=sensor.id,
        measure_id=measure.id,
        datatype=measure.datatype,
        dt_from=body.dt_from,
        dt_to=body.dt_to,
        width=width,
        aggregate=aggregate,
    )
    return Response(orjson.dumps(items, option=orjson.OPT_UTC_Z), media_type="application/json")


_DOWNLOAD = {
    "description": "The readings as a download: CSV (`timestamp,value`) or NDJSON",
    "content": {"text/csv": {}, "application/x-ndjson": {}},
}


@router.post(
    "/sensor-readings-table",
    response_model=ReadingsTable,
    responses=documented(
        {400: "Unknown sensor, or a measure its type does not have (or has twice)"}
    ),
)
def sensor_readings_table(body: SensorReadingsTableRequest, session: SessionDep) -> ReadingsTable:
    """Additive: a page of the sensor's readings from `dt_from` to `dt_to` inclusive as a
    table: one row per timestamp (oldest first, or newest with `newest_first`), one
    column per measure (every measure of its type unless `measures` names them), and the
    number of rows of the whole range (`total`)."""
    sensor, of_type = store.sensor_and_measures(session, unique_identifier=body.unique_identifier)
    measures = of_type
    if body.measures is not None:
        measures = [
            store.measure_of_sensor(
                session, type_id=sensor.type_id, name=one.name, units=one.units, measures=of_type
            )
            for one in body.measures
        ]
    total, rows = readings.readings_table(
        session,
        sensor_id=sensor.id,
        measures=measures,
        dt_from=body.dt_from,
        dt_to=body.dt_to,
        offset=body.offset,
        limit=body.limit,
        newest_first=body.newest_first,
    )
    return ReadingsTable(
        total=total,
        measures=[_measure(measure) for measure in measures],
        rows=[ReadingsRow(timestamp=stamp, values=values) for stamp, values in rows],
    )


@router.post(
    "/export-sensor-readings",
    response_class=StreamingResponse,
    responses=documented({400: NO_MEASURE_OF_SENSOR}),
    # What FastAPI cannot tell from a streamed answer: its content types.
    openapi_extra={"responses": {"200": _DOWNLOAD}},
)
def export_sensor_readings(body: ExportSensorReadingsRequest, session: SessionDep) -> Response:
    """Additive: the readings from `dt_from` to `dt_to` inclusive, oldest first, streamed
    as a file to download (an unknown sensor gives an empty file)."""
    found = store.find_series(
        session,
        unique_identifier=body.unique_identifier,
        measure_name=body.measure_name,
        measure_units=sent(body, "measure_units"),
    )
    filename = _safe_name(f"{body.unique_identifier}_{body.measure_name}") + f".{body.format}"
    media_type = "text/csv" if body.format == "csv" else "application/x-ndjson"
    chunks: Iterator[bytes] = iter(())
    if found is not None:
        sensor, measure = found
        rows = readings.iter_readings(
            _engine(session),
            sensor_id=sensor.id,
            measure_id=measure.id,
            datatype=measure.datatype,
            dt_from=body.dt_from,
            dt_to=body.dt_to,
        )
        chunks = (
            streaming.ndjson_chunks(rows) if body.format == "ndjson" else streaming.csv_chunks(rows)
        )
    if body.format == "csv":
        chunks = itertools.chain([b"timestamp,value\r\n"], chunks)
    return StreamingResponse(
        chunks,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:100] or "readings"


@post_ingest(
    router,
    "/insert-readings-bulk",
    InsertReadingsBulkRequest,
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented({400: NO_SERIES}),
)
def insert_readings_bulk(body: InsertReadingsBulkRequest, session: SessionDep, _: Writer) -> Msg:
    """Additive: readings of many sensors and measures in one request, all stored or none.
    Each series is as in insert-sensor-readings; a bad value is a 422 naming the series and
    the reading."""
    sensors = store.sensor_keys(
        session, unique_identifiers={item.unique_identifier for item in body.series}
    )
    measures = store.measures_of_types(
        session, type_ids={type_id for _, type_id in sensors.values()}
    )
    # A fleet's sensors share a few types: each measure is looked up once per type.
    found: dict[tuple[int, str, Any], SensorMeasureRow] = {}
    series: list[store.Series] = []
    for index, item in enumerate(body.series):
        try:
            if item.unique_identifier not in sensors:
                raise InvalidInput(store.NO_SUCH_SENSOR)
            sensor_id, type_id = sensors[item.unique_identifier]
            units = sent(item, "measure_units")
            key = (type_id, item.measure_name, units)
            measure = found.get(key)
            if measure is None:
                measure = found[key] = store.measure_of_sensor(
                    session,
                    type_id=type_id,
                    name=item.measure_name,
                    units=units,
                    measures=measures[type_id],
                )
        except InvalidInput as error:
            # Which of maybe thousands of series: its place and its names.
            raise InvalidInput(
                f"series {index} (sensor {item.unique_identifier!r}, measure"
                f" {item.measure_name!r}): {error.detail}"
            ) from error
        series.append(
            store.Series(
                sensor_id=sensor_id,
                measure=measure,
                timestamps=item.timestamps,
                values=item.readings,
                loc=("series", index, "readings"),
            )
        )
    store.insert_series(session, series, overwrite=body.overwrite)
    return Msg(detail=readings.READINGS_INSERTED)


_CSV_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "unique_identifier": {"type": "string"},
                    "measure_name": {"type": "string"},
                    "measure_units": {"type": "string"},
                    "overwrite": {"type": "boolean"},
                    "skip_bad_lines": {"type": "boolean"},
                    "dry_run": {"type": "boolean"},
                },
            }
        },
        "text/csv": {"schema": {"type": "string"}},
    },
}


@router.post(
    "/insert-readings-bulk-csv",
    status_code=status.HTTP_201_CREATED,
    response_model=CsvUploadReport,
    responses=documented(
        {
            200: "A dry run: nothing stored; the report says what an upload would do",
            400: NO_SERIES,
            415: "The body is neither text/csv nor a multipart/form-data form",
        }
    ),
    openapi_extra={"requestBody": _CSV_BODY},
)
def insert_readings_bulk_csv(
    _: Writer,
    upload: Annotated[csv_upload.Upload, Depends(csv_upload.read_upload)],
    session: SessionDep,
    response: Response,
    unique_identifier: Annotated[
        str | None, Query(description="The sensor of a `timestamp,value` file.")
    ] = None,
    measure_name: Annotated[
        str | None, Query(description="The measure of a `timestamp,value` file.")
    ] = None,
    measure_units: Annotated[
        str | None,
        Query(description="Picks the measure of a `timestamp,value` file; empty: no units."),
    ] = None,
    overwrite: Annotated[bool, Query(description=OVERWRITE_DESCRIPTION)] = False,
    skip_bad_lines: Annotated[
        bool,
        Query(
            description="Additive: store the good lines and answer the bad ones (by default "
            "one bad line stores nothing)."
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        Query(
            description="Additive: check every line and store nothing; answers 200 with "
            "what an upload would do."
        ),
    ] = False,
) -> CsvUploadReport:
    """Additive: readings uploaded as CSV (UTF-8), all stored or none: a `text/csv` body,
    or the field `file` of a multipart form (`curl -F file=@readings.csv`).

    Columns `sensor_unique_identifier,measure_name,measure_units,timestamp,value` (empty
    units: none) for any number of series, or the
    `timestamp,value` lines of export-sensor-readings (header optional) for the sensor and
    measure named by the query parameters or form fields of the same names. Values are
    read as the measure's datatype (booleans as true/false). Bad lines are a 422 listing
    each (the first 100) with its line, column and what was expected; with
    `skip_bad_lines` the good lines are stored and the answer lists the bad ones. The
    answer counts every line: stored, already stored, not stored, rejected."""
    report = csv_upload.insert_csv(
        session,
        upload,
        query={
            "unique_identifier": unique_identifier,
            "measure_name": measure_name,
            "measure_units": measure_units,
        },
        flags=csv_upload.Flags(overwrite, skip_bad_lines, dry_run),
    )
    if report.dry_run:
        response.status_code = status.HTTP_200_OK
    return report


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


@router.post(
    "/delete-sensor",
    response_model=Msg,
    responses=documented({400: store.NO_SUCH_SENSOR, 409: "Model runs refer to the sensor"}),
)
def delete_sensor(body: SensorRequest, session: SessionDep, _: Writer) -> Msg:
    """Delete a sensor with its readings and location history."""
    store.delete_sensor(session, unique_identifier=body.unique_identifier)
    return Msg(detail="Sensor deleted")


@router.post(
    "/delete-sensor-type",
    response_model=Msg,
    responses=documented({400: store.NO_SUCH_TYPE, 409: "Sensors of the type exist"}),
)
def delete_sensor_type(body: DeleteSensorTypeRequest, session: SessionDep, _: Writer) -> Msg:
    """Delete a type that has no sensors. Its measures stay."""
    store.delete_type(session, name=body.type_name)
    return Msg(detail="Sensor type deleted")


@router.post("/edit-sensor", response_model=Msg, responses=documented({400: store.NO_SUCH_SENSOR}))
def edit_sensor(body: EditSensorRequest, session: SessionDep, _: Writer) -> Msg:
    """Overwrite a sensor's name and notes; null clears one (additive: DTBase wants
    strings)."""
    store.edit_sensor(
        session, unique_identifier=body.unique_identifier, name=body.name, notes=body.notes
    )
    return Msg(detail="Sensor edited")


@router.post(
    "/edit-sensor-type",
    response_model=Msg,
    responses=documented({400: store.NO_SUCH_TYPE, 409: store.TYPE_EXISTS}),
)
def edit_sensor_type(body: EditSensorTypeRequest, session: SessionDep, _: Writer) -> Msg:
    """Additive: rename a type and/or change its description (fields left out stay)."""
    store.edit_type(
        session,
        name=body.type_name,
        new_name=body.new_name,
        description=sent(body, "description"),
    )
    return Msg(detail="Sensor type edited")


@router.post(
    "/edit-sensor-measure",
    response_model=Msg,
    responses=documented(
        {
            400: store.NO_SUCH_MEASURE,
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
        new_units=sent(body, "new_units"),
        new_datatype=body.new_datatype,
    )
    return Msg(detail="Sensor measure edited")


@router.post(
    "/delete-sensor-measure",
    response_model=Msg,
    responses=documented(
        {
            400: store.NO_SUCH_MEASURE,
            409: "Sensor types, readings or model runs use the measure",
        }
    ),
)
def delete_sensor_measure(body: MeasureRequest, session: SessionDep, _: Writer) -> Msg:
    """Additive: delete a measure that no sensor type, reading or model run uses."""
    store.delete_measure(session, name=body.name, units=body.units)
    return Msg(detail="Sensor measure deleted")
