from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import IO, Any

from dtbase.client.resource import Resource, as_models
from dtbase.client.unset import UNSET, Unset, given
from dtbase.schemas.common import Msg
from dtbase.schemas.sensors import (
    Aggregate,
    CsvUploadReport,
    DeleteSensorTypeRequest,
    DownsampledReading,
    EditSensorMeasureRequest,
    EditSensorRequest,
    EditSensorTypeRequest,
    ExportFormat,
    ExportSensorReadingsRequest,
    InsertReadingsBulkRequest,
    InsertSensorLocationRequest,
    InsertSensorReadingsRequest,
    InsertSensorRequest,
    LatestReading,
    ListSensorsRequest,
    MeasureRequest,
    Reading,
    ReadingsTable,
    Sensor,
    SensorDetails,
    SensorLocation,
    SensorMeasure,
    SensorReadingsRequest,
    SensorReadingsTableRequest,
    SensorRequest,
    SensorType,
    SeriesReadings,
)
from dtbase.schemas.values import Scalar, ValueDatatype


def _given(**fields: Any) -> dict[str, Any]:
    """The optional fields that were given: None means "leave the key out"."""
    return {name: value for name, value in fields.items() if value is not None}


def _flag(value: bool | None) -> str | None:
    return None if value is None else str(value).lower()


class Sensors(Resource):
    """The /sensor endpoints."""

    def insert_sensor_type(
        self,
        name: str,
        measures: Sequence[SensorMeasure | Mapping[str, Any]],
        description: str | None = None,
    ) -> Msg:
        body = SensorType(
            name=name, description=description, measures=as_models(SensorMeasure, measures)
        )
        return self._client.post("/sensor/insert-sensor-type", body.model_dump(mode="json"), Msg)

    def insert_sensor(
        self,
        type_name: str,
        unique_identifier: str,
        name: str | None = None,
        notes: str | None = None,
    ) -> Msg:
        body = InsertSensorRequest(
            type_name=type_name, unique_identifier=unique_identifier, name=name, notes=notes
        )
        return self._client.post("/sensor/insert-sensor", body.model_dump(mode="json"), Msg)

    def insert_sensor_location(
        self,
        unique_identifier: str,
        schema_name: str,
        coordinates: Mapping[str, Scalar],
        installation_datetime: datetime | None = None,
    ) -> Msg:
        """Install the sensor at the first location matching `coordinates` (a subset of the
        schema's identifiers), from `installation_datetime` (default: now)."""
        body = InsertSensorLocationRequest(
            unique_identifier=unique_identifier,
            schema_name=schema_name,
            coordinates=dict(coordinates),
            **_given(installation_datetime=installation_datetime),
        )
        dumped = body.model_dump(mode="json", exclude_unset=True)
        return self._client.post("/sensor/insert-sensor-location", dumped, Msg)

    def list_sensor_locations(self, unique_identifier: str) -> list[SensorLocation]:
        """The sensor's location history, newest first; `.coordinates` of each entry are
        the location's identifier values."""
        body = SensorRequest(unique_identifier=unique_identifier)
        return self._client.post(
            "/sensor/list-sensor-locations", body.model_dump(), list[SensorLocation]
        )

    def insert_sensor_readings(
        self,
        measure_name: str,
        unique_identifier: str,
        readings: Sequence[Scalar],
        timestamps: Sequence[datetime],
        measure_units: str | Unset | None = UNSET,
        overwrite: bool | None = None,
    ) -> Msg:
        """Store `readings[i]` taken at `timestamps[i]`; `measure_units` picks the measure
        when the sensor's type has several of that name (None: the one without units).
        Readings already stored at a timestamp stay, unless `overwrite`."""
        body = InsertSensorReadingsRequest(
            measure_name=measure_name,
            unique_identifier=unique_identifier,
            readings=list(readings),
            timestamps=list(timestamps),
            **given(measure_units=measure_units),
            **_given(overwrite=overwrite),
        )
        dumped = body.model_dump(mode="json", exclude_unset=True)
        return self._client.post("/sensor/insert-sensor-readings", dumped, Msg)

    def list_sensors(
        self, type_name: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Sensor]:
        body = ListSensorsRequest(type_name=type_name, limit=limit, offset=offset)
        dumped = body.model_dump(mode="json", exclude_defaults=True)
        return self._client.post("/sensor/list-sensors", dumped, list[Sensor])

    def list_sensors_details(
        self, type_name: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[SensorDetails]:
        """The sensors `list_sensors` would list, each with its type's name and its newest
        installation (`location`, None if never installed)."""
        body = ListSensorsRequest(type_name=type_name, limit=limit, offset=offset)
        dumped = body.model_dump(mode="json", exclude_defaults=True)
        return self._client.post("/sensor/list-sensors-details", dumped, list[SensorDetails])

    def get_sensor(self, unique_identifier: str) -> SensorDetails:
        """One sensor with its type's name and newest installation; ApiError (400) if
        there is no such sensor."""
        body = SensorRequest(unique_identifier=unique_identifier)
        return self._client.post("/sensor/get-sensor", body.model_dump(), SensorDetails)

    def list_latest_readings(
        self, type_name: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[LatestReading]:
        """The newest reading of each measure of the sensors `list_sensors` would list."""
        body = ListSensorsRequest(type_name=type_name, limit=limit, offset=offset)
        dumped = body.model_dump(mode="json", exclude_defaults=True)
        return self._client.post("/sensor/list-latest-readings", dumped, list[LatestReading])

    def list_sensor_types(self) -> list[SensorType]:
        return self._client.get("/sensor/list-sensor-types", list[SensorType])

    def list_measures(self) -> list[SensorMeasure]:
        return self._client.get("/sensor/list-measures", list[SensorMeasure])

    def sensor_readings(
        self,
        measure_name: str,
        unique_identifier: str,
        dt_from: datetime,
        dt_to: datetime,
        measure_units: str | Unset | None = UNSET,
    ) -> list[Reading]:
        """Readings from `dt_from` to `dt_to` inclusive, oldest first."""
        body = SensorReadingsRequest(
            measure_name=measure_name,
            unique_identifier=unique_identifier,
            dt_from=dt_from,
            dt_to=dt_to,
            **given(measure_units=measure_units),
        )
        dumped = body.model_dump(mode="json", exclude_unset=True)
        return self._client.post("/sensor/sensor-readings", dumped, list[Reading])

    def sensor_readings_downsampled(
        self,
        measure_name: str,
        unique_identifier: str,
        dt_from: datetime,
        dt_to: datetime,
        max_points: int | None = None,
        bucket_seconds: int | None = None,
        aggregate: Aggregate | None = None,
        measure_units: str | Unset | None = UNSET,
    ) -> list[DownsampledReading]:
        """One bucket per item, oldest first: at most `max_points` buckets and/or buckets
        `bucket_seconds` wide, each with its `aggregate` (default avg), min, max and count.
        Give one of them, or both (`sensor_readings` reads the readings themselves)."""
        if max_points is None and bucket_seconds is None:
            # Without either the backend answers plain readings, which fail validation as
            # buckets with one error per reading: say what is missing before asking.
            raise TypeError("sensor_readings_downsampled() needs max_points or bucket_seconds")
        body = SensorReadingsRequest(
            measure_name=measure_name,
            unique_identifier=unique_identifier,
            dt_from=dt_from,
            dt_to=dt_to,
            **given(measure_units=measure_units),
            **_given(
                max_points=max_points,
                bucket_seconds=bucket_seconds,
                aggregate=aggregate,
            ),
        )
        dumped = body.model_dump(mode="json", exclude_unset=True)
        return self._client.post("/sensor/sensor-readings", dumped, list[DownsampledReading])

    def sensor_readings_table(
        self,
        unique_identifier: str,
        dt_from: datetime,
        dt_to: datetime,
        measures: Sequence[MeasureRequest | Mapping[str, Any]] | None = None,
        offset: int = 0,
        limit: int = 100,
        newest_first: bool = False,
    ) -> ReadingsTable:
        """A page of the sensor's readings from `dt_from` to `dt_to` inclusive: one row per
        timestamp (`limit` rows from `offset`, oldest first unless `newest_first`), one
        value per measure of `measures` (default: all of its type's), and `total`, the
        number of rows of the whole range."""
        body = SensorReadingsTableRequest(
            unique_identifier=unique_identifier,
            dt_from=dt_from,
            dt_to=dt_to,
            measures=None if measures is None else as_models(MeasureRequest, measures),
            offset=offset,
            limit=limit,
            newest_first=newest_first,
        )
        dumped = body.model_dump(mode="json", exclude_defaults=True)
        return self._client.post("/sensor/sensor-readings-table", dumped, ReadingsTable)

    def insert_readings_bulk(
        self,
        series: Sequence[SeriesReadings | Mapping[str, Any]],
        overwrite: bool | None = None,
    ) -> Msg:
        """Store readings of many sensors and measures at once: all or nothing."""
        body = InsertReadingsBulkRequest(
            series=as_models(SeriesReadings, series), **_given(overwrite=overwrite)
        )
        dumped = body.model_dump(mode="json", exclude_unset=True)
        return self._client.post("/sensor/insert-readings-bulk", dumped, Msg)

    def insert_readings_csv(
        self,
        content: bytes | str | IO[bytes],
        *,
        unique_identifier: str | None = None,
        measure_name: str | None = None,
        measure_units: str | None = None,
        overwrite: bool | None = None,
        skip_bad_lines: bool | None = None,
        dry_run: bool | None = None,
        filename: str = "readings.csv",
        timeout: float | None = None,
    ) -> CsvUploadReport:
        """Upload readings as a CSV file: all stored or none, unless `skip_bad_lines`
        (the good lines are stored, the report lists the bad ones); `dry_run` stores
        nothing and reports what an upload would do. A binary file object is sent in
        chunks, never read whole into memory here. `timeout` (seconds) replaces the
        client's own: the backend answers once it has checked every line.

        Columns `sensor_unique_identifier,measure_name,measure_units,timestamp,value`, or
        the `timestamp,value` of `export_sensor_readings` with `unique_identifier` and
        `measure_name` (and `measure_units`: "" for none) naming the series.
        """
        data = content.encode() if isinstance(content, str) else content
        params = _given(
            unique_identifier=unique_identifier,
            measure_name=measure_name,
            measure_units=measure_units,
            overwrite=_flag(overwrite),
            skip_bad_lines=_flag(skip_bad_lines),
            dry_run=_flag(dry_run),
        )
        response = self._client.send(
            "POST",
            "/sensor/insert-readings-bulk-csv",
            params=params,
            files={"file": (filename, data, "text/csv")},
            timeout=timeout,
        )
        return CsvUploadReport.model_validate(response.json())

    def export_sensor_readings(
        self,
        measure_name: str,
        unique_identifier: str,
        dt_from: datetime,
        dt_to: datetime,
        format: ExportFormat = ExportFormat.csv,
        measure_units: str | Unset | None = UNSET,
    ) -> bytes:
        """The readings of the window as a CSV (`timestamp,value`) or NDJSON file."""
        body = ExportSensorReadingsRequest(
            measure_name=measure_name,
            unique_identifier=unique_identifier,
            dt_from=dt_from,
            dt_to=dt_to,
            format=format,
            **given(measure_units=measure_units),
        )
        dumped = body.model_dump(mode="json", exclude_unset=True)
        response = self._client.send("POST", "/sensor/export-sensor-readings", json=dumped)
        return response.content

    def delete_sensor(self, unique_identifier: str) -> Msg:
        body = SensorRequest(unique_identifier=unique_identifier)
        return self._client.post("/sensor/delete-sensor", body.model_dump(), Msg)

    def delete_sensor_type(self, type_name: str) -> Msg:
        body = DeleteSensorTypeRequest(type_name=type_name)
        return self._client.post("/sensor/delete-sensor-type", body.model_dump(), Msg)

    def edit_sensor(self, unique_identifier: str, name: str | None, notes: str | None) -> Msg:
        """Overwrite the sensor's name and notes (both sent; None clears one)."""
        body = EditSensorRequest(unique_identifier=unique_identifier, name=name, notes=notes)
        return self._client.post("/sensor/edit-sensor", body.model_dump(), Msg)

    def edit_sensor_type(
        self,
        type_name: str,
        new_name: str | Unset = UNSET,
        description: str | Unset | None = UNSET,
    ) -> Msg:
        """Rename a type and/or set its description (None clears it); fields not given stay."""
        body = EditSensorTypeRequest(
            type_name=type_name, **given(new_name=new_name, description=description)
        )
        dumped = body.model_dump(mode="json", exclude_unset=True)
        return self._client.post("/sensor/edit-sensor-type", dumped, Msg)

    def edit_sensor_measure(
        self,
        name: str,
        units: str | None,
        new_name: str | Unset = UNSET,
        new_units: str | Unset | None = UNSET,
        new_datatype: ValueDatatype | Unset = UNSET,
    ) -> Msg:
        """Change the measure (name, units: None for none, datatype); fields not given stay."""
        body = EditSensorMeasureRequest(
            name=name,
            units=units,
            **given(new_name=new_name, new_units=new_units, new_datatype=new_datatype),
        )
        dumped = body.model_dump(mode="json", exclude_unset=True)
        return self._client.post("/sensor/edit-sensor-measure", dumped, Msg)

    def delete_sensor_measure(self, name: str, units: str | None) -> Msg:
        body = MeasureRequest(name=name, units=units)
        return self._client.post("/sensor/delete-sensor-measure", body.model_dump(), Msg)
