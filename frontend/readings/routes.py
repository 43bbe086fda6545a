"""The readings table: one sensor's readings of one measure over a time range, a page at a
time, and the same readings as a CSV file.

The backend has no offset for readings: a page is found through per-bucket counts
(`paging.read_page`), so a page of a long range fetches about a page of readings. The CSV
file has every reading of the range.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from dtbase.client import ApiError, Client, describe
from dtbase.schemas.sensors import SensorMeasure, SensorType
from frontend.auth import session as user_session
from frontend.backend import backend, is_client_error
from frontend.readings.paging import ReadingsPage, read_page
from frontend.sensors.catalog import (
    BadChoice,
    find_measure,
    find_type,
    format_input,
    measure_key,
    time_range,
)

bp = Blueprint("readings", __name__, template_folder="templates")

PAGE_SIZE = 100


@dataclass(frozen=True)
class Choice:
    """What the form chose; `sensor` and `measure` are None until chosen."""

    types: list[SensorType]
    sensor_type: SensorType | None
    sensors: list[str]
    sensor: str | None
    measure: SensorMeasure | None
    dt_from: datetime
    dt_to: datetime

    @property
    def complete(self) -> bool:
        return self.sensor is not None and self.measure is not None


@bp.route("/readings/index")
@user_session.login_required
def index() -> ResponseReturnValue:
    client = backend()
    try:
        choice = _choice(client)
    except BadChoice as error:
        flash(str(error), "error")
        return redirect(url_for("readings.index"))
    number = max(request.args.get("page", 1, type=int) or 1, 1)
    start = (number - 1) * PAGE_SIZE
    page = ReadingsPage([], 0)
    if choice.complete:
        try:
            page = read_page(
                client, _request(choice), choice.dt_from, choice.dt_to, start, PAGE_SIZE
            )
        except ApiError as error:
            if not is_client_error(error):
                raise
            flash(describe(error.detail), "error")
    return render_template(
        "readings/index.html",
        choice=choice,
        measure_key=measure_key,
        dt_from=format_input(choice.dt_from),
        dt_to=format_input(choice.dt_to),
        readings=page.readings,
        total=page.total,
        first=start + 1,
        number=number,
        has_next=start + PAGE_SIZE < page.total,
        page_args=_page_args(choice),
    )


@bp.route("/readings/download.csv")
@user_session.login_required
def download() -> ResponseReturnValue:
    client = backend()
    try:
        choice = _choice(client)
        if not choice.complete:
            raise BadChoice("Choose a sensor and a measure to download.")
        readings = _readings(client, choice)
    except BadChoice as error:
        flash(str(error), "error")
        return redirect(_back())
    except ApiError as error:
        if not is_client_error(error):
            raise
        flash(describe(error.detail), "error")
        return redirect(_back())
    assert choice.measure is not None
    assert choice.sensor is not None
    name = f"{choice.sensor}_{choice.measure.name}.csv".replace("/", "_").replace('"', "")
    return Response(
        csv_lines(readings),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def csv_lines(readings: list[dict[str, Any]]) -> Iterator[str]:
    """timestamp,value: the timestamp as the backend wrote it (UTC, ISO 8601); booleans as
    true/false and strings as text, as JSON would write them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["timestamp", "value"])
    for reading in readings:
        writer.writerow([reading["timestamp"], cell(reading["value"])])
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _back() -> str:
    """The table page with the download's choices."""
    args: dict[str, Any] = request.args.to_dict()
    return url_for("readings.index", **args)


def cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _choice(client: Client) -> Choice:
    args = request.args
    types = client.sensors.list_sensor_types()
    sensor_type = find_type(types, args.get("type"))
    dt_from, dt_to = time_range(args.get("from"), args.get("to"))
    if sensor_type is None:
        return Choice(types, None, [], None, None, dt_from, dt_to)
    sensors = [s.unique_identifier for s in client.sensors.list_sensors(sensor_type.name)]
    sensor = args.get("sensor") or None
    if sensor is not None and sensor not in sensors:
        raise BadChoice(f"The type {sensor_type.name} has no sensor {sensor}.")
    key = args.get("measure")
    if key:
        measure = find_measure(sensor_type, key)
    elif len(sensor_type.measures) == 1:
        measure = sensor_type.measures[0]
    else:
        measure = None
    return Choice(types, sensor_type, sensors, sensor, measure, dt_from, dt_to)


def _request(choice: Choice) -> dict[str, Any]:
    """The sensor-readings request of the choice, without its time range."""
    assert choice.measure is not None
    return {
        "measure_name": choice.measure.name,
        "measure_units": choice.measure.units,
        "unique_identifier": choice.sensor,
    }


def _readings(client: Client, choice: Choice) -> list[dict[str, Any]]:
    body = _request(choice) | {
        "dt_from": choice.dt_from.isoformat(),
        "dt_to": choice.dt_to.isoformat(),
    }
    readings: list[dict[str, Any]] = client.request("POST", "/sensor/sensor-readings", body)
    return readings


def _page_args(choice: Choice) -> dict[str, str]:
    if not choice.complete or choice.sensor_type is None or choice.measure is None:
        return {}
    return {
        "type": choice.sensor_type.name,
        "sensor": str(choice.sensor),
        "measure": measure_key(choice.measure),
        "from": format_input(choice.dt_from),
        "to": format_input(choice.dt_to),
    }
