"""Wire models of the /sensor endpoints (DTBase's field names), shared with the client."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from dtbase.schemas.common import (
    NOT_BLANK,
    BoundedName,
    BoundedText,
    Msg,
    UtcDatetime,
    UtcDatetimes,
)
from dtbase.schemas.values import Scalar, ValueDatatype, ValueType

MEASURE_UNITS_DESCRIPTION = (
    "Additive: picks the measure when the sensor's type has several of this name "
    "(null picks the one without units)."
)


OVERWRITE_DESCRIPTION = (
    "Additive: replace readings already stored at the same timestamps (by default they "
    "stay and the new ones are skipped)."
)


class SensorMeasure(BaseModel):
    """What a sensor measures. Measures are unique on (name, units)."""

    name: str
    units: str | None
    datatype: ValueDatatype


class SensorType(BaseModel):
    """A kind of sensor and the measures each of its sensors reports."""

    name: str
    description: str | None = None
    measures: list[SensorMeasure]


# A name given to something new: not blank, and no longer than its column.
NewName = Annotated[BoundedName, NOT_BLANK]


class NewSensorMeasure(SensorMeasure):
    name: NewName
    units: BoundedName | None


class NewSensorType(BaseModel):
    """The body of insert-sensor-type: a SensorType whose names are not blank."""

    name: NewName
    description: BoundedText | None = None
    measures: list[NewSensorMeasure]


class InsertSensorRequest(BaseModel):
    type_name: BoundedName
    unique_identifier: NewName
    name: BoundedName | None = None
    notes: BoundedText | None = None


class Sensor(BaseModel):
    unique_identifier: str
    name: str | None
    notes: str | None


class ListSensorsRequest(BaseModel):
    type_name: str | None = None
    limit: int | None = Field(
        default=None, ge=0, description="Additive: at most this many sensors (default: all)."
    )
    offset: int = Field(default=0, ge=0, description="Additive: skip this many sensors first.")


class SensorRequest(BaseModel):
    """Names one sensor."""

    unique_identifier: BoundedName


class EditSensorRequest(BaseModel):
    """Both fields are required, as in DTBase; null clears one (additive: DTBase wants
    strings, but a sensor may have no name or notes, as insert-sensor allows)."""

    unique_identifier: BoundedName
    name: BoundedName | None
    notes: BoundedText | None


class DeleteSensorTypeRequest(BaseModel):
    type_name: BoundedName


class EditSensorTypeRequest(BaseModel):
    """Additive. Fields left out keep their value; `description: null` clears it."""

    type_name: BoundedName
    new_name: NewName | None = None
    description: BoundedText | None = None


class MeasureRequest(BaseModel):
    """Names one measure by its (name, units)."""

    name: BoundedName
    units: BoundedName | None


class EditSensorMeasureRequest(BaseModel):
    """Additive. Fields left out keep their value; `new_units: null` clears the units.

    The datatype cannot change once the measure has readings.
    """

    name: BoundedName
    units: BoundedName | None
    new_name: NewName | None = None
    new_units: BoundedName | None = None
    new_datatype: ValueDatatype | None = None


class InsertSensorLocationRequest(BaseModel):
    unique_identifier: BoundedName
    schema_name: BoundedName
    coordinates: dict[str, ValueType] = Field(
        description="A filter on the schema's identifiers; the first matching location is used."
    )
    installation_datetime: UtcDatetime | None = Field(default=None, description="Default: now.")


class SensorLocation(BaseModel):
    """One installation of a sensor: the location's id, its coordinates (one key per
    identifier of its schema) and when the sensor was installed there."""

    model_config = ConfigDict(extra="allow")

    id: int
    installation_datetime: UtcDatetime

    @property
    def coordinates(self) -> dict[str, Scalar]:
        return dict(self.model_extra or {})

    @model_serializer(mode="wrap")
    def _coordinates_before_time(self, handler: SerializerFunctionWrapHandler) -> Any:
        data: dict[str, Any] = handler(self)
        data["installation_datetime"] = data.pop("installation_datetime")
        return data

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The serializer above only moves a key: document the fields, not its return type.
        plain = {key: value for key, value in schema.items() if key != "serialization"}
        return handler(cast(CoreSchema, plain))


class InsertSensorReadingsRequest(BaseModel):
    measure_name: BoundedName
    unique_identifier: BoundedName
    readings: list[ValueType]
    timestamps: UtcDatetimes
    measure_units: BoundedName | None = Field(default=None, description=MEASURE_UNITS_DESCRIPTION)
    overwrite: bool = Field(default=False, description=OVERWRITE_DESCRIPTION)


# How a downsampled bucket's readings become its `value`.
Aggregate = Literal["avg", "min", "max", "first", "last", "count"]


class SensorReadingsRequest(BaseModel):
    measure_name: str
    unique_identifier: str
    dt_from: UtcDatetime
    dt_to: UtcDatetime
    measure_units: str | None = Field(default=None, description=MEASURE_UNITS_DESCRIPTION)
    max_points: int | None = Field(
        default=None,
        ge=2,
        description="Additive: downsample to at most this many buckets (aligned on the Unix "
        "epoch), each answered as a DownsampledReading.",
    )
    bucket_seconds: int | None = Field(
        default=None,
        gt=0,
        description="Additive: downsample into buckets of this width (aligned on the Unix "
        "epoch; widened if `max_points` asks for fewer).",
    )
    aggregate: Aggregate | None = Field(
        default=None,
        description="Additive, with max_points or bucket_seconds: the bucket's value (default "
        "avg). String and boolean measures allow first, last and count only.",
    )

    @property
    def downsampled(self) -> bool:
        return self.max_points is not None or self.bucket_seconds is not None


class Reading(BaseModel):
    value: ValueType
    timestamp: UtcDatetime


class DownsampledReading(BaseModel):
    """One bucket of a downsampled read: where it starts, its aggregate, the envelope
    (`min` and `max`, for numbers only) and how many readings it holds."""

    timestamp: UtcDatetime
    value: ValueType
    min: int | float | None = None
    max: int | float | None = None
    count: int


class LatestReading(BaseModel):
    """Additive: the newest reading of one measure of one sensor (`null`s when it has none)."""

    unique_identifier: str
    type_name: str
    measure_name: str
    measure_units: str | None
    value: ValueType | None
    timestamp: UtcDatetime | None


class ExportFormat(StrEnum):
    csv = "csv"
    ndjson = "ndjson"


class ExportSensorReadingsRequest(BaseModel):
    measure_name: str
    unique_identifier: str
    dt_from: UtcDatetime
    dt_to: UtcDatetime
    measure_units: str | None = Field(default=None, description=MEASURE_UNITS_DESCRIPTION)
    format: ExportFormat = ExportFormat.csv


class SeriesReadings(BaseModel):
    """Readings of one measure of one sensor, in a bulk insert."""

    unique_identifier: BoundedName
    measure_name: BoundedName
    readings: list[ValueType]
    timestamps: UtcDatetimes
    measure_units: BoundedName | None = Field(default=None, description=MEASURE_UNITS_DESCRIPTION)


class InsertReadingsBulkRequest(BaseModel):
    series: list[SeriesReadings]
    overwrite: bool = Field(default=False, description=OVERWRITE_DESCRIPTION)


class CsvLineProblem(BaseModel):
    """A line of an uploaded CSV file that was rejected, or not stored because another
    value for the same time wins (`type` "conflict")."""

    line: int = Field(description="1-based, as an editor shows it")
    column: int | None = Field(default=None, description="1-based; null: the whole line")
    column_name: str | None = None
    msg: str = Field(description="What is wrong and what was expected, with the line")
    input: str | None = None
    type: str = "value_error"


class CsvUploadReport(Msg):
    """Additive: what a CSV upload did (or, `dry_run`, would do) with every line:
    `lines` = `stored` + `already_stored` + `not_stored` + `rejected`."""

    dry_run: bool = False
    lines: int = Field(description="Readings lines in the file (the header excluded)")
    stored: int = Field(description="Lines whose reading was stored (new, or replaced)")
    already_stored: int = Field(
        description="Lines whose reading was there already with the same value"
    )
    not_stored: int = Field(
        description="Lines not stored because another value for the same time wins"
    )
    rejected: int = Field(description="Bad lines, skipped (skip_bad_lines or dry_run)")
    problems: list[CsvLineProblem] = Field(
        description="The first 100 rejected or not stored lines, in file order"
    )
    first_timestamp: UtcDatetime | None = Field(
        default=None, description="The earliest time of the good lines (null: none)"
    )
    last_timestamp: UtcDatetime | None = Field(
        default=None, description="The latest time of the good lines (null: none)"
    )


class SensorDetails(Sensor):
    """Additive: a sensor with its type's name and its newest installation (`null` if it
    was never installed anywhere)."""

    type_name: str
    location: SensorLocation | None = None


class SensorReadingsTableRequest(BaseModel):
    """Additive: one page of a sensor's readings as a table, one row per timestamp and one
    column per measure."""

    unique_identifier: str
    dt_from: UtcDatetime
    dt_to: UtcDatetime
    measures: list[MeasureRequest] | None = Field(
        default=None,
        description="The columns, in this order (default: every measure of the sensor's type).",
    )
    offset: int = Field(default=0, ge=0, description="Skip this many rows first.")
    limit: int = Field(default=100, ge=1, le=10_000, description="At most this many rows.")
    newest_first: bool = Field(default=False, description="Rows newest first (default oldest).")


class ReadingsRow(BaseModel):
    """The readings taken at one timestamp: `values[i]` of `measures[i]`, null if none."""

    timestamp: UtcDatetime
    values: list[ValueType | None]


class ReadingsTable(BaseModel):
    """A page of rows and how many rows (distinct timestamps) the whole range holds."""

    total: int
    measures: list[SensorMeasure]
    rows: list[ReadingsRow]
