"""What the data pages choose from: sensor types, their sensors and measures, time ranges.

Shared by the sensors, readings and time-series pages. A measure is unique on (name,
units), so a form names it by one key (`measure_key`) that keeps both.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

from flask import abort

from dtbase.client import ApiError, Client
from dtbase.schemas.sensors import SensorDetails, SensorMeasure, SensorType

# The datetime-local inputs of the forms: minutes, always read as UTC.
INPUT_FORMAT = "%Y-%m-%dT%H:%M"
DEFAULT_SPAN = timedelta(days=7)


class BadChoice(ValueError):
    """A query argument that names nothing or cannot be read; shown as a flash."""


def measure_key(measure: SensorMeasure) -> str:
    """The form value naming a measure: a JSON pair [name, units]."""
    return json.dumps([measure.name, measure.units])


def find_measure(sensor_type: SensorType, key: str) -> SensorMeasure:
    for measure in sensor_type.measures:
        if measure_key(measure) == key:
            return measure
    raise BadChoice(f"The type {sensor_type.name} has no such measure.")


def find_type(types: list[SensorType], name: str | None) -> SensorType | None:
    """The type called `name`; None when no name is given."""
    if not name:
        return None
    for sensor_type in types:
        if sensor_type.name == name:
            return sensor_type
    raise BadChoice(f"There is no sensor type called {name}.")


def format_input(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(INPUT_FORMAT)


def parse_input(text: str | None, *, label: str) -> datetime | None:
    """A datetime-local value (UTC); seconds and an ISO offset are accepted too."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise BadChoice(f"{label}: {text!r} is not a date and time.") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def time_range(
    dt_from: str | None, dt_to: str | None, *, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The range of the form: default the last seven days; `from` must precede `to`."""
    end = parse_input(dt_to, label="To") or _next_minute(now or datetime.now(UTC))
    start = parse_input(dt_from, label="From") or end - DEFAULT_SPAN
    if start >= end:
        raise BadChoice("From must be before To.")
    return start, end


def _next_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


def sensor_or_404(client: Client, unique_identifier: str) -> SensorDetails:
    """The sensor a page is about; a 404 page when there is none."""
    try:
        return client.sensors.get_sensor(unique_identifier)
    except ApiError as error:
        if error.status_code == HTTPStatus.BAD_REQUEST:  # the only thing it names is missing
            abort(404)
        raise
