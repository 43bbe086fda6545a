"""Time-series plots: the page chooses a type, sensors, measures and a range; each chart
(one per measure, one line per sensor) fetches its data from `/timeseries/data`, and again
for the window it is zoomed or panned to.

`/timeseries/data` asks the backend for at most `points` points per sensor (the chart's
width): the backend downsamples long ranges in SQL into buckets
`{"timestamp", "value", "min", "max", "count"}`. When the buckets hold no more readings
than `points` in all, the raw readings are fetched instead, so a short window shows every
reading at its exact time.

A type just chosen starts with its first `FIRST_TICKED` sensors ticked and plotted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from dtbase.client import ApiError, Client, describe
from dtbase.schemas.sensors import (
    Aggregate,
    DownsampledReading,
    Reading,
    SensorMeasure,
    SensorType,
)
from dtbase.schemas.values import ValueDatatype
from frontend.auth import session as user_session
from frontend.backend import backend, is_client_error
from frontend.events.live import live_page
from frontend.sensors.catalog import (
    BadChoice,
    find_measure,
    find_type,
    format_input,
    measure_key,
    parse_input,
    time_range,
)

bp = Blueprint("timeseries", __name__, template_folder="templates")

DEFAULT_POINTS = 1000
MAX_POINTS = 10_000
# Sensors ticked (and plotted) when a type is chosen: enough to compare, few enough to
# read the chart and to load fast; the others are a tick away.
FIRST_TICKED = 5
NUMERIC = {ValueDatatype.float, ValueDatatype.integer}


@dataclass(frozen=True)
class Choice:
    types: list[SensorType]
    sensor_type: SensorType | None
    sensors: list[str]
    chosen_sensors: list[str]
    measures: list[SensorMeasure]
    dt_from: datetime
    dt_to: datetime


@bp.route("/timeseries/index")
@user_session.login_required
def index() -> ResponseReturnValue:
    client = backend()
    try:
        choice = _choice(client)
    except BadChoice as error:
        flash(str(error), "error")
        return redirect(url_for("timeseries.index"))
    return render_template(
        "timeseries/index.html",
        choice=choice,
        # New readings of the plotted sensors and measures are drawn as they are stored.
        live=live_page(
            client,
            kind=["readings.stored"],
            sensor=choice.chosen_sensors,
            measure=[measure.name for measure in choice.measures],
        )
        if choice.chosen_sensors
        else None,
        measure_key=measure_key,
        numeric=NUMERIC,
        dt_from=format_input(choice.dt_from),
        dt_to=format_input(choice.dt_to),
    )


@bp.route("/timeseries/data")
@user_session.login_required
def data() -> ResponseReturnValue:
    """One chart's data: `sensor` (repeated), `type`, `measure`, `from`, `to` (ISO 8601,
    naive means UTC) and `points`; 400 with a `detail` for a bad choice."""
    client = backend()
    args = request.args
    try:
        sensor_type = find_type(client.sensors.list_sensor_types(), args.get("type"))
        if sensor_type is None:
            raise BadChoice("Choose a sensor type.")
        measure = find_measure(sensor_type, args.get("measure", ""))
        dt_from = parse_input(args.get("from"), label="From")
        dt_to = parse_input(args.get("to"), label="To")
        if dt_from is None or dt_to is None or dt_from >= dt_to:
            raise BadChoice("Give from and to, from before to.")
        sensors = args.getlist("sensor")
        if not sensors:
            raise BadChoice("Choose at least one sensor.")
        points = args.get("points", DEFAULT_POINTS, type=int) or DEFAULT_POINTS
        if not 2 <= points <= MAX_POINTS:
            raise BadChoice(f"points must be from 2 to {MAX_POINTS}.")
        series = [_series(client, sensor, measure, dt_from, dt_to, points) for sensor in sensors]
    except BadChoice as error:
        return jsonify(detail=str(error)), 400
    except ApiError as error:
        if not is_client_error(error):
            raise
        return jsonify(detail=describe(error.detail)), error.status_code
    return jsonify(
        measure={"name": measure.name, "units": measure.units, "datatype": measure.datatype},
        downsampled=any(item["downsampled"] for item in series),
        series=series,
    )


def _series(
    client: Client,
    sensor: str,
    measure: SensorMeasure,
    dt_from: datetime,
    dt_to: datetime,
    points: int,
) -> dict[str, Any]:
    aggregate: Aggregate = "avg" if measure.datatype in NUMERIC else "last"
    buckets = client.sensors.sensor_readings_downsampled(
        measure.name,
        sensor,
        dt_from,
        dt_to,
        max_points=points,
        aggregate=aggregate,
        measure_units=measure.units,
    )
    if sum(bucket.count for bucket in buckets) > points:
        return _columns(sensor, buckets, downsampled=True)
    readings = client.sensors.sensor_readings(
        measure.name, sensor, dt_from, dt_to, measure_units=measure.units
    )
    return _columns(sensor, readings, downsampled=False)


def _columns(
    sensor: str, items: Sequence[Reading | DownsampledReading], *, downsampled: bool
) -> dict[str, Any]:
    """Column arrays, as uPlot wants them; `t` in seconds since the epoch, `time` the
    timestamps as the backend writes them (for the CSV file)."""
    columns: dict[str, Any] = {
        "sensor": sensor,
        "downsampled": downsampled,
        "time": [_iso(item.timestamp) for item in items],
        "t": [item.timestamp.timestamp() for item in items],
        "value": [item.value for item in items],
    }
    if downsampled:
        buckets = [item for item in items if isinstance(item, DownsampledReading)]
        columns["min"] = [bucket.min for bucket in buckets]
        columns["max"] = [bucket.max for bucket in buckets]
        columns["count"] = [bucket.count for bucket in buckets]
    return columns


def _iso(stamp: datetime) -> str:
    return stamp.isoformat().replace("+00:00", "Z")


def _choice(client: Client) -> Choice:
    args = request.args
    types = client.sensors.list_sensor_types()
    sensor_type = find_type(types, args.get("type"))
    dt_from, dt_to = time_range(args.get("from"), args.get("to"))
    if sensor_type is None:
        return Choice(types, None, [], [], [], dt_from, dt_to)
    sensors = [s.unique_identifier for s in client.sensors.list_sensors(sensor_type.name)]
    chosen = args.getlist("sensors")
    if not chosen and "measures" not in args:
        # A type just chosen: plot its first sensors rather than an empty page.
        chosen = sensors[:FIRST_TICKED]
    unknown = [sensor for sensor in chosen if sensor not in sensors]
    if unknown:
        raise BadChoice(f"The type {sensor_type.name} has no sensor {unknown[0]}.")
    keys = args.getlist("measures")
    measures = [find_measure(sensor_type, key) for key in keys] if keys else sensor_type.measures
    return Choice(types, sensor_type, sensors, chosen, measures, dt_from, dt_to)
