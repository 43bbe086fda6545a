"""Readings uploaded as CSV: reading the upload, its columns, and its values as typed.

Two layouts, told apart by the first line:
* `sensor_unique_identifier,measure_name,measure_units,timestamp,value`: any number of
  series in one file (empty units mean none);
* `timestamp,value`, with or without that header, as `export-sensor-readings` writes it:
  one series, named by query or form fields.

Every bad line is found, not only the first: each is a `LineProblem` naming the line
(1-based, as an editor shows it), the column and what was expected. By default nothing is
stored unless every line is good; `skip_bad_lines` stores the good ones, and `dry_run`
stores nothing but answers what an upload would do. Either way the answer counts every
line: stored, already stored (the same value), not stored (another value wins) or
rejected.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from fastapi import Request
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from dtbase.backend.errors import DomainError, InvalidInput, Unprocessable
from dtbase.backend.sensors import readings, store
from dtbase.backend.sensors.tables import SensorMeasure
from dtbase.backend.values import VALUE_COLUMNS
from dtbase.core.unset import UNSET, Unset
from dtbase.schemas.common import UtcDatetime, UtcDatetimes
from dtbase.schemas.sensors import CsvLineProblem, CsvUploadReport
from dtbase.schemas.values import INT64, Scalar, ValueDatatype

SERIES_HEADER = ("sensor_unique_identifier", "measure_name", "measure_units", "timestamp", "value")
EXPORT_HEADER = ("timestamp", "value")
HEADERS = (SERIES_HEADER, EXPORT_HEADER)
CSV_TYPES = ("text/csv",)
FORM_TYPES = ("multipart/form-data",)
FLAG_FIELDS = ("overwrite", "skip_bad_lines", "dry_run")
FORM_FIELDS = ("unique_identifier", "measure_name", "measure_units", *FLAG_FIELDS)
# An answer lists this many problem lines at most; its counts cover all of them.
MAX_REPORTED = 100

# How much of a bad value an answer repeats.
SHOWN_CHARACTERS = 60

# Numbers as JSON writes them (Python's float() would also take "nan", "1_000", " 1 ").
_FLOAT = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"-?(?:0|[1-9]\d*)")
_BOOLEANS = {"true": True, "false": False}
# The pattern of each numeric datatype's values.
_NUMBERS = {ValueDatatype.float: _FLOAT, ValueDatatype.integer: _INTEGER}
_TIMESTAMPS = TypeAdapter(UtcDatetimes)
_TIMESTAMP = TypeAdapter(UtcDatetime)
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


@dataclass(frozen=True)
class Flags:
    overwrite: bool = False
    skip_bad_lines: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class LineProblem:
    """What is wrong with one line; `column` is 1-based, None for the whole line."""

    line: int
    message: str
    column: int | None = None
    column_name: str | None = None
    value: str | None = None
    kind: str = "value_error"

    def text(self) -> str:
        where = f"line {self.line}"
        if self.column is not None:
            where += f", column {self.column} ({self.column_name})"
        return f"{where}: {self.message}"

    def wire(self) -> CsvLineProblem:
        return CsvLineProblem(
            line=self.line,
            column=self.column,
            column_name=self.column_name,
            msg=self.text(),
            input=None if self.value is None else self.value[:SHOWN_CHARACTERS],
            type=self.kind,
        )


@dataclass
class CsvSeries:
    """The lines of one (sensor, measure, units) in the file, values still as text.

    `units` is None for none, or UNSET when nobody said (the measure is picked by name);
    `first_column` is the 1-based column of the timestamps (the values follow it)."""

    unique_identifier: str
    measure_name: str
    units: str | Unset | None
    first_column: int
    lines: list[int] = field(default_factory=list)
    timestamps: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)

    def problem(
        self, index: int, message: str, *, of_value: bool, value: str | None = None
    ) -> LineProblem:
        column = self.first_column + 1 if of_value else self.first_column
        name = "value" if of_value else "timestamp"
        return LineProblem(self.lines[index], message, column, name, value)


@dataclass
class GoodSeries:
    """The good lines of one series, read as their measure's datatype."""

    sensor_id: int
    measure: SensorMeasure
    lines: list[int]
    timestamps: list[datetime]
    values: list[Scalar]


@dataclass
class Tally:
    stored: int = 0
    already_stored: int = 0
    not_stored: list[LineProblem] = field(default_factory=list)


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
    # A form that is not valid multipart is Starlette's 400. The file itself is spooled to
    # disk by Starlette beyond 1 MB, and read once here.
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


def flags_of(upload: Upload, query: Flags) -> Flags:
    """The query's flags, each overridden by a form field of the same name."""
    given = {name: getattr(query, name) for name in FLAG_FIELDS}
    for name in FLAG_FIELDS:
        if name in upload.fields:
            try:
                given[name] = _FLAG.validate_python(upload.fields[name])
            except ValidationError as error:
                raise Unprocessable([name], f"{name} must be true or false") from error
    return Flags(**given)


def parse_series(
    text: str,
    *,
    unique_identifier: str | None,
    measure_name: str | None,
    units: str | Unset | None,
) -> tuple[list[CsvSeries], list[LineProblem]]:
    """The file's series, in the order they first appear, and its lines with the wrong
    number of fields; `unique_identifier`, `measure_name` and `units` name the series of
    a `timestamp,value` file. A file that is not CSV, or has an unknown header, fails.

    The rows are read one at a time into their series (a list of all rows first would
    take ten times the file's size)."""
    # Lines end at \r or \n only, as in the CSV RFC (str.splitlines knows more).
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    if '"' in text:  # a quoted field may span lines: ask the reader where each ends
        numbered = ((reader.line_num, row) for row in reader if row)
    else:
        numbered = ((number, row) for number, row in enumerate(reader, 1) if row)
    try:
        found, problems = _read(numbered, unique_identifier, measure_name, units)
    except csv.Error as error:
        raise problem(reader.line_num, f"not valid CSV ({error})") from error
    if not found and not problems:
        raise Unprocessable([LOC], "The file has a header but no readings")
    return found, problems


def _read(
    numbered: Iterator[tuple[int, list[str]]],
    unique_identifier: str | None,
    measure_name: str | None,
    units: str | Unset | None,
) -> tuple[list[CsvSeries], list[LineProblem]]:
    first_line, first = next(numbered, (0, []))
    if not first:
        raise Unprocessable([LOC], EMPTY)
    header = tuple(name.strip().lower() for name in first)
    if header == SERIES_HEADER:
        return _many(numbered)
    if header != EXPORT_HEADER and len(first) != len(EXPORT_HEADER):
        raise problem(
            first_line,
            f"the header must be `{','.join(SERIES_HEADER)}` or `{','.join(EXPORT_HEADER)}` "
            "(or no header, for timestamp,value lines)",
            ",".join(first),
        )
    if unique_identifier is None or measure_name is None:
        raise Unprocessable(
            ["unique_identifier" if unique_identifier is None else "measure_name"],
            "A `timestamp,value` file needs unique_identifier and measure_name "
            "(query or form fields)",
        )
    one = CsvSeries(unique_identifier, measure_name, units, first_column=1)
    problems = []
    rows = numbered if header == EXPORT_HEADER else itertools.chain([(first_line, first)], numbered)
    for line, row in rows:
        if len(row) != len(EXPORT_HEADER):
            problems.append(_field_count(line, row, EXPORT_HEADER))
            continue
        _add(one, line, row[0], row[1])
    return ([one] if one.lines else []), problems


def _many(rows: Iterator[tuple[int, list[str]]]) -> tuple[list[CsvSeries], list[LineProblem]]:
    found: dict[tuple[str, str, str | None], CsvSeries] = {}
    problems = []
    for line, row in rows:
        if len(row) != len(SERIES_HEADER):
            problems.append(_field_count(line, row, SERIES_HEADER))
            continue
        uid, name, units, stamp, value = row
        key = (uid, name, units or None)
        series = found.get(key)
        if series is None:
            series = found[key] = CsvSeries(uid, name, units or None, first_column=4)
        _add(series, line, stamp, value)
    return list(found.values()), problems


def _field_count(line: int, row: list[str], header: Sequence[str]) -> LineProblem:
    return LineProblem(
        line,
        f"expected {len(header)} fields ({','.join(header)}), got {len(row)}",
        value=",".join(row),
    )


def _add(series: CsvSeries, line: int, stamp: str, value: str) -> None:
    series.lines.append(line)
    series.timestamps.append(stamp)
    series.values.append(value)


def timestamps_of(series: CsvSeries) -> tuple[list[datetime | None], list[LineProblem]]:
    """The timestamps, read as the JSON API reads them (ISO 8601 or Unix seconds); None
    where a line's is bad."""
    texts = [text.strip() for text in series.timestamps]
    try:
        return list(_TIMESTAMPS.validate_python(texts)), []
    except ValidationError:
        pass  # the rare path: read them one by one to find every bad one
    stamps: list[datetime | None] = []
    problems = []
    for index, text in enumerate(texts):
        try:
            stamps.append(_TIMESTAMP.validate_python(text))
        except ValidationError as error:
            message = f"expected a timestamp (ISO 8601 or Unix seconds): {error.errors()[0]['msg']}"
            problems.append(series.problem(index, message, of_value=False, value=text))
            stamps.append(None)
    return stamps, problems


def _value(text: str, datatype: ValueDatatype) -> Scalar:
    """The value as the measure's datatype; ValueError saying what was expected."""
    match datatype:
        case ValueDatatype.string:
            return text
        case ValueDatatype.boolean:
            flag = _BOOLEANS.get(text.strip().lower())
            if flag is None:
                raise ValueError(f"expected true or false, got {_shown(text)}")
            return flag
        case ValueDatatype.integer:
            if not _INTEGER.fullmatch(text.strip()) or int(text) not in INT64:
                raise ValueError(f"expected a 64-bit integer, got {_shown(text)}")
            return int(text)
    if not _FLOAT.fullmatch(text.strip()):
        raise ValueError(f"expected a number, got {_shown(text)}")
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is too large for a float")
    return number


def _shown(value: Scalar) -> str:
    """A value as an answer quotes it: cut short if long."""
    if isinstance(value, str) and len(value) > SHOWN_CHARACTERS:
        return f"{value[:SHOWN_CHARACTERS]!r}... ({len(value)} characters)"
    return repr(value)


def insert_csv(
    session: Session, upload: Upload, *, query: dict[str, str | None], flags: Flags
) -> CsvUploadReport:
    """Store the upload's readings (none unless all are good, or `skip_bad_lines`);
    form fields override the same query parameters."""
    named = {**query, **upload.fields}
    units = named.get("measure_units")
    flags = flags_of(upload, flags)
    found, problems = parse_series(
        upload.text,
        unique_identifier=named.get("unique_identifier"),
        measure_name=named.get("measure_name"),
        # Absent: pick the measure by name; empty: the one without units.
        units=UNSET if units is None else units or None,
    )
    lines = sum(len(item.lines) for item in found) + len(problems)
    # An unknown sensor or measure fails a strict upload as a whole (400, as ever).
    strict = not (flags.skip_bad_lines or flags.dry_run)
    good: list[GoodSeries] = []
    for item in found:
        try:
            sensor_id, measure = _measure_of(session, item)
        except InvalidInput as error:
            if strict:
                raise InvalidInput(f"line {item.lines[0]}: {error.detail}") from error
            problems.extend(LineProblem(line, error.detail) for line in item.lines)
            continue
        good.append(_good_lines(item, sensor_id, measure, problems))
    problems.sort(key=lambda item: item.line)
    nothing_good = not any(item.lines for item in good)
    if problems and (strict or (nothing_good and not flags.dry_run)):
        raise _unprocessable(problems)
    tally = _tally(session, good, overwrite=flags.overwrite)
    if not flags.dry_run:
        store.insert_series(
            session,
            [
                store.Series(item.sensor_id, item.measure, item.timestamps, item.values, (LOC,))
                for item in good
            ],
            overwrite=flags.overwrite,
        )
    return _report(flags, lines, tally, problems, _span(good))


def _good_lines(
    item: CsvSeries, sensor_id: int, measure: SensorMeasure, problems: list[LineProblem]
) -> GoodSeries:
    """The lines of `item` whose timestamp and value are good; the others go to problems."""
    stamps, bad_stamps = timestamps_of(item)
    problems.extend(bad_stamps)
    values = _all_values(item.values, measure.datatype)
    if values is not None and not bad_stamps:
        # The texts are read: let them go before the readings are stored (half the
        # memory an upload takes).
        item.timestamps.clear()
        item.values.clear()
        return GoodSeries(sensor_id, measure, item.lines, cast(list[datetime], stamps), values)
    good = GoodSeries(sensor_id, measure, [], [], [])
    for index, (line, stamp, text) in enumerate(zip(item.lines, stamps, item.values, strict=True)):
        try:
            value = _value(text, measure.datatype)
        except ValueError as error:
            problems.append(item.problem(index, str(error), of_value=True, value=text))
            continue
        if stamp is not None:
            good.lines.append(line)
            good.timestamps.append(stamp)
            good.values.append(value)
    return good


def _all_values(texts: list[str], datatype: ValueDatatype) -> list[Scalar] | None:
    """Every value as the datatype when all are good, at C speed; None when one is not
    (then `_value` finds which)."""
    if datatype == ValueDatatype.string:
        return list(texts)
    if datatype == ValueDatatype.boolean:
        flags = [_BOOLEANS.get(text.strip().lower()) for text in texts]
        return None if None in flags else cast(list[Scalar], flags)
    # One match per value: a pattern over the joined column would keep a backtracking
    # record per line (450 MB for 750,000 lines).
    if not all(map(_NUMBERS[datatype].fullmatch, texts)):
        return None
    convert = int if datatype == ValueDatatype.integer else float
    numbers: list[Scalar] = list(map(convert, texts))
    if datatype == ValueDatatype.integer:
        return numbers if min(numbers) in INT64 and max(numbers) in INT64 else None
    return None if any(map(math.isinf, cast(list[float], numbers))) else numbers


def _unprocessable(problems: list[LineProblem]) -> Unprocessable:
    """A 422 listing the first MAX_REPORTED problems (and how many more there are)."""
    first = problems[0]
    error = Unprocessable([LOC, first.line], first.text(), first.value)
    error.errors = [_error_of(item) for item in problems[:MAX_REPORTED]]
    if len(problems) > MAX_REPORTED:
        more = len(problems) - MAX_REPORTED
        error.errors.append(
            {
                "type": "too_many_errors",
                "loc": ["body", LOC],
                "msg": f"{len(problems)} bad lines in all: {more} more not listed",
                "input": len(problems),
            }
        )
    return error


def _error_of(item: LineProblem) -> dict[str, Any]:
    return {
        "type": item.kind,
        "loc": ["body", LOC, item.line],
        "msg": item.text(),
        "input": item.value,
        "ctx": {"line": item.line, "column": item.column, "column_name": item.column_name},
    }


def _tally(session: Session, good: list[GoodSeries], *, overwrite: bool) -> Tally:
    """What storing the good lines does to each: stored, already stored with the same
    value, or not stored because another value wins (one already stored, or another line
    of the file at the same time: the first, or with `overwrite` the last)."""
    tally = Tally()
    for item in good:
        stored = _stored_values(session, item)
        if not stored and len(set(item.timestamps)) == len(item.timestamps):
            tally.stored += len(item.timestamps)  # the usual upload: all new
            continue
        winners: dict[datetime, int] = {}
        order = range(len(item.lines) - 1, -1, -1) if overwrite else range(len(item.lines))
        for index in order:
            stamp, value = item.timestamps[index], item.values[index]
            winner = winners.setdefault(stamp, index)
            if winner != index:
                if item.values[winner] == value:
                    tally.already_stored += 1
                else:
                    tally.not_stored.append(_repeat(item, index, winner, overwrite))
            elif stamp in stored and stored[stamp] == value:
                tally.already_stored += 1
            elif stamp in stored and not overwrite:
                tally.not_stored.append(
                    LineProblem(
                        item.lines[index],
                        f"another value ({_shown(stored[stamp])}) is stored for this time; "
                        "choose overwrite to replace it",
                        value=str(value),
                        kind="conflict",
                    )
                )
            else:
                tally.stored += 1
    return tally


def _repeat(item: GoodSeries, index: int, winner: int, overwrite: bool) -> LineProblem:
    which = "a later" if overwrite else "an earlier"
    return LineProblem(
        item.lines[index],
        f"{which} line ({item.lines[winner]}) gives this time another value, and that one is "
        "stored",
        value=str(item.values[index]),
        kind="conflict",
    )


def _stored_values(session: Session, item: GoodSeries) -> dict[datetime, Scalar]:
    """The values already stored within the series' time span (an index range scan,
    empty for readings newer than any stored: the usual upload)."""
    if not item.timestamps:
        return {}
    column = VALUE_COLUMNS[item.measure.datatype]
    query = sql_text(
        f"SELECT timestamp, {column} FROM sensor_reading "  # noqa: S608 (a fixed column name)
        "WHERE sensor_id = :sensor AND measure_id = :measure "
        "AND timestamp BETWEEN :first AND :last"
    )
    rows = session.execute(
        query,
        {
            "sensor": item.sensor_id,
            "measure": item.measure.id,
            "first": min(item.timestamps),
            "last": max(item.timestamps),
        },
    )
    return {stamp: value for stamp, value in rows}


def _span(good: list[GoodSeries]) -> tuple[datetime, datetime] | None:
    """The earliest and the latest time of the good lines."""
    ends = [(min(item.timestamps), max(item.timestamps)) for item in good if item.timestamps]
    if not ends:
        return None
    return min(first for first, _ in ends), max(last for _, last in ends)


def _report(
    flags: Flags,
    lines: int,
    tally: Tally,
    problems: list[LineProblem],
    span: tuple[datetime, datetime] | None,
) -> CsvUploadReport:
    listed = sorted([*problems, *tally.not_stored], key=lambda item: item.line)
    verb = "would be" if flags.dry_run else "were"
    detail = (
        f"{lines} lines: {tally.stored} {verb} stored, {tally.already_stored} already stored, "
        f"{len(tally.not_stored)} not stored (another value for the same time), "
        f"{len(problems)} rejected"
    )
    if flags.dry_run and problems and not flags.skip_bad_lines:
        detail += (
            f". An upload would store nothing: {_bad_lines(len(problems))}; "
            "with skip_bad_lines it would store the good ones"
        )
    if not (listed or flags.dry_run):
        detail = readings.READINGS_INSERTED  # as ever, for a file stored whole
    return CsvUploadReport(
        detail=detail,
        dry_run=flags.dry_run,
        lines=lines,
        stored=tally.stored,
        already_stored=tally.already_stored,
        not_stored=len(tally.not_stored),
        rejected=len(problems),
        problems=[item.wire() for item in listed[:MAX_REPORTED]],
        first_timestamp=span[0] if span else None,
        last_timestamp=span[1] if span else None,
    )


def _bad_lines(count: int) -> str:
    return "1 bad line" if count == 1 else f"{count} bad lines"


def _measure_of(session: Session, item: CsvSeries) -> tuple[int, SensorMeasure]:
    """The series' sensor id and measure."""
    sensor, measures = store.sensor_and_measures(session, unique_identifier=item.unique_identifier)
    measure = store.measure_of_sensor(
        session, type_id=sensor.type_id, name=item.measure_name, units=item.units, measures=measures
    )
    return sensor.id, measure
