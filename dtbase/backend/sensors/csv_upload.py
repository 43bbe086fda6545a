"""Readings uploaded as CSV: reading the upload, its columns, and its values as typed.

Two layouts, told apart by the first line:
* `sensor_unique_identifier,measure_name,measure_units,timestamp,value`: any number of
  series in one file (empty units mean none);
* `timestamp,value`, with or without that header, as `export-sensor-readings` writes it:
  one series, named by query or form fields.

Every problem is an `Unprocessable` naming the line (1-based, as an editor shows it), so
a client can point at it; nothing is stored unless every line is good.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Request
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from dtbase.backend.errors import DomainError, InvalidInput, Unprocessable
from dtbase.backend.sensors import store
from dtbase.backend.sensors.tables import SensorMeasure
from dtbase.core.unset import UNSET, Unset
from dtbase.schemas.common import UtcDatetimes
from dtbase.schemas.values import INT64, Scalar, ValueDatatype

SERIES_HEADER = ("sensor_unique_identifier", "measure_name", "measure_units", "timestamp", "value")
EXPORT_HEADER = ("timestamp", "value")
HEADERS = (SERIES_HEADER, EXPORT_HEADER)
CSV_TYPES = ("text/csv",)
FORM_TYPES = ("multipart/form-data",)
FORM_FIELDS = ("unique_identifier", "measure_name", "measure_units", "overwrite")

# Numbers as JSON writes them (Python's float() would also take "nan", "1_000", " 1 ").
_FLOAT = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"-?(?:0|[1-9]\d*)")
_BOOLEANS = {"true": True, "false": False}
_TIMESTAMPS = TypeAdapter(UtcDatetimes)
_FLAG = TypeAdapter(bool)

LOC = "file"
EMPTY = "The file is empty"


class UnsupportedMediaType(DomainError):
    status_code = 415


@dataclass(frozen=True)
class Upload:
    """The CSV text and the form fields that came with it."""

    text: str
    fields: dict[str, str]


@dataclass
class CsvSeries:
    """The lines of one (sensor, measure, units) in the file, values still as text.

    `units` is None for none, or UNSET when nobody said (the measure is picked by name)."""

    unique_identifier: str
    measure_name: str
    units: str | Unset | None
    lines: list[int] = field(default_factory=list)
    timestamps: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)


def problem(line: int, message: str, value: Any = None) -> Unprocessable:
    return Unprocessable([LOC, line], f"line {line}: {message}", value)


async def read_upload(request: Request) -> Upload:
    """The CSV of a `text/csv` body, or of the `file` field of a multipart form."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in CSV_TYPES:
        return Upload(_text(await request.body()), {})
    if media_type not in FORM_TYPES:
        raise UnsupportedMediaType(
            "Send the CSV as text/csv, or as the field `file` of a multipart/form-data form"
        )
    # A form that is not valid multipart is Starlette's 400.
    form = await request.form()
    try:
        upload = form.get("file")
        if upload is None:
            raise Unprocessable([LOC], "The form has no field `file`")
        content = await upload.read() if isinstance(upload, UploadFile) else upload.encode()
        fields = {name: value for name in FORM_FIELDS if isinstance(value := form.get(name), str)}
    finally:
        await form.close()
    return Upload(_text(content), fields)


def _text(content: bytes) -> str:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Unprocessable(
            [LOC], f"The file is not UTF-8 text (byte {error.start + 1})"
        ) from error
    if not text.strip():
        raise Unprocessable([LOC], EMPTY)
    if "\x00" in text:
        raise Unprocessable([LOC], "The file contains NUL characters")
    return text


def parse_series(
    text: str,
    *,
    unique_identifier: str | None,
    measure_name: str | None,
    units: str | Unset | None,
) -> list[CsvSeries]:
    """The file's series, in the order they first appear; `unique_identifier`,
    `measure_name` and `units` name the series of a `timestamp,value` file."""
    # Lines end at \r or \n only, as in the CSV RFC (str.splitlines knows more).
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = [(reader.line_num, row) for row in reader if row]
    except csv.Error as error:
        raise problem(reader.line_num, f"not valid CSV ({error})") from error
    if not rows:
        raise Unprocessable([LOC], EMPTY)
    first_line, first = rows[0]
    if len(rows) == 1 and tuple(name.strip().lower() for name in first) in HEADERS:
        raise Unprocessable([LOC], "The file has a header but no readings")
    header = tuple(name.strip().lower() for name in first)
    if header == SERIES_HEADER:
        return _many(rows[1:])
    if header == EXPORT_HEADER or len(first) == len(EXPORT_HEADER):
        if unique_identifier is None or measure_name is None:
            raise Unprocessable(
                ["unique_identifier" if unique_identifier is None else "measure_name"],
                "A `timestamp,value` file needs unique_identifier and measure_name "
                "(query or form fields)",
            )
        one = CsvSeries(unique_identifier, measure_name, units)
        for line, row in rows[1:] if header == EXPORT_HEADER else rows:
            if len(row) != len(EXPORT_HEADER):
                raise problem(line, f"expected 2 fields (timestamp,value), got {len(row)}")
            _add(one, line, row[0], row[1])
        return [one] if one.lines else []
    raise problem(
        first_line,
        f"the header must be `{','.join(SERIES_HEADER)}` or `{','.join(EXPORT_HEADER)}` "
        "(or no header, for timestamp,value lines)",
        ",".join(first),
    )


def _many(rows: list[tuple[int, list[str]]]) -> list[CsvSeries]:
    found: dict[tuple[str, str, str | None], CsvSeries] = {}
    for line, row in rows:
        if len(row) != len(SERIES_HEADER):
            raise problem(line, f"expected {len(SERIES_HEADER)} fields, got {len(row)}")
        uid, name, units, stamp, value = row
        key = (uid, name, units or None)
        series = found.get(key)
        if series is None:
            series = found[key] = CsvSeries(uid, name, units or None)
        _add(series, line, stamp, value)
    return list(found.values())


def _add(series: CsvSeries, line: int, stamp: str, value: str) -> None:
    series.lines.append(line)
    series.timestamps.append(stamp)
    series.values.append(value)


def timestamps_of(series: CsvSeries) -> list[datetime]:
    """The timestamps, read as the JSON API reads them (ISO 8601 or Unix seconds)."""
    try:
        return _TIMESTAMPS.validate_python([text.strip() for text in series.timestamps])
    except ValidationError as error:
        first = error.errors()[0]
        index = int(first["loc"][0])
        text = series.timestamps[index]
        raise problem(series.lines[index], f"invalid timestamp: {first['msg']}", text) from error


def values_of(series: CsvSeries, datatype: ValueDatatype) -> list[Scalar]:
    """The values, read as the measure's datatype."""
    return [
        _value(text, datatype, line) for line, text in zip(series.lines, series.values, strict=True)
    ]


def _value(text: str, datatype: ValueDatatype, line: int) -> Scalar:
    match datatype:
        case ValueDatatype.string:
            return text
        case ValueDatatype.boolean:
            flag = _BOOLEANS.get(text.strip().lower())
            if flag is None:
                raise problem(line, f"expected true or false, got {text!r}", text)
            return flag
        case ValueDatatype.integer:
            if not _INTEGER.fullmatch(text.strip()) or int(text) not in INT64:
                raise problem(line, f"expected a 64-bit integer, got {text!r}", text)
            return int(text)
    if not _FLOAT.fullmatch(text.strip()):
        raise problem(line, f"expected a number, got {text!r}", text)
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise problem(line, f"{text} is too large for a float", text)
    return number


def insert_csv(
    session: Session, upload: Upload, *, query: dict[str, str | None], overwrite: bool
) -> None:
    """Store the upload's readings; form fields override the same query parameters."""
    named = {**query, **upload.fields}
    units = named.get("measure_units")
    if "overwrite" in upload.fields:
        try:
            overwrite = _FLAG.validate_python(upload.fields["overwrite"])
        except ValidationError as error:
            raise Unprocessable(["overwrite"], "overwrite must be true or false") from error
    found = parse_series(
        upload.text,
        unique_identifier=named.get("unique_identifier"),
        measure_name=named.get("measure_name"),
        # Absent: pick the measure by name; empty: the one without units.
        units=UNSET if units is None else units or None,
    )
    measures = [_measure_of(session, item) for item in found]
    series: list[store.Series] = []
    problems: list[Unprocessable] = []
    for item, (sensor_id, measure) in zip(found, measures, strict=True):
        try:
            timestamps = timestamps_of(item)
            values = values_of(item, measure.datatype)
        except Unprocessable as error:
            problems.append(error)
            continue
        series.append(store.Series(sensor_id, measure, timestamps, values, loc=(LOC,)))
    if problems:
        # Each series stops at its first bad line: the file's first is the least of them.
        raise min(problems, key=lambda error: int(error.errors[0]["loc"][-1]))
    store.insert_series(session, series, overwrite=overwrite)


def _measure_of(session: Session, item: CsvSeries) -> tuple[int, SensorMeasure]:
    """The series' sensor id and measure: 400 naming the line where the series starts."""
    try:
        sensor, measures = store.sensor_and_measures(
            session, unique_identifier=item.unique_identifier
        )
        measure = store.measure_of_sensor(
            session, sensor=sensor, name=item.measure_name, units=item.units, measures=measures
        )
    except InvalidInput as error:
        raise InvalidInput(f"line {item.lines[0]}: {error.detail}") from error
    return sensor.id, measure
