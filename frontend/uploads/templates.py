"""The CSV templates the upload pages offer: real sensors and measures as example rows.

One sensor: `timestamp,value`, the layout the readings page downloads, for one measure
(the page names the measure). Many sensors: the series layout
(`sensor_unique_identifier,measure_name,measure_units,timestamp,value`), a row per
measure of each sensor, so every name in it is one the backend knows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from dtbase.schemas.sensors import SensorMeasure, SensorType
from dtbase.schemas.values import ValueDatatype

SERIES_HEADER = ("sensor_unique_identifier", "measure_name", "measure_units", "timestamp", "value")
EXPORT_HEADER = ("timestamp", "value")
# Example rows of the many-sensors template at most (a site of 10,000 sensors gets a
# template, not a copy of its catalogue).
MAX_EXAMPLE_ROWS = 200

EXAMPLE_VALUES = {
    ValueDatatype.float: ("21.5", "21.75"),
    ValueDatatype.integer: ("3", "4"),
    ValueDatatype.boolean: ("true", "false"),
    ValueDatatype.string: ("some text", "more text"),
}
EXAMPLE_TIMES = ("2024-01-01T00:00:00Z", "2024-01-01T00:10:00Z")


def one_measure(measure: SensorMeasure) -> str:
    """`timestamp,value` with two example lines of the measure's datatype."""
    values = EXAMPLE_VALUES[measure.datatype]
    return _csv([EXPORT_HEADER, *zip(EXAMPLE_TIMES, values, strict=True)])


def many_sensors(sensors: Iterable[tuple[str, SensorType]]) -> str:
    """The series layout, one example line per measure of each (sensor, type)."""
    rows: list[Sequence[str]] = [SERIES_HEADER]
    for unique_identifier, sensor_type in sensors:
        for measure in sensor_type.measures:
            value = EXAMPLE_VALUES[measure.datatype][0]
            rows.append(
                (unique_identifier, measure.name, measure.units or "", EXAMPLE_TIMES[0], value)
            )
            if len(rows) > MAX_EXAMPLE_ROWS:
                return _csv(rows)
    return _csv(rows)


def _csv(rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def filename(stem: str) -> str:
    """A download name that says what it is and when it was made."""
    return f"{stem}-template-{datetime.now(UTC):%Y%m%d}.csv"
