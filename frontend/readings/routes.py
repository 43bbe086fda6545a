"""The readings table: one sensor's readings over a time range, one column per measure (all
of its type's, or the one chosen), a page at a time, and the same readings as a CSV file.

Pages are cut by the backend (`sensor-readings-table`), which counts the rows of the whole
range, so a page of a 100,000-reading range costs about what the first page costs and the
page knows how many pages there are.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from dtbase.client import ApiError, Client, describe
from dtbase.schemas.sensors import MeasureRequest, ReadingsTable, SensorMeasure, SensorType
from frontend.auth import session as user_session
from frontend.backend import backend, is_client_error
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
# Rows per request while writing a CSV file of every measure.
CSV_PAGE_SIZE = 10_000
NEWEST_FIRST = "newest"
# Past the end of any range but within PostgreSQL's bigint offsets: a page number typed
# as 10**30 is a page past the last, not an error.
FAR_OFFSET = 2**53


@dataclass(frozen=True)
class Choice:
    """What the form chose; `sensor` is None until chosen, `measure` None for all of the
    type's measures."""

    types: list[SensorType]
    sensor_type: SensorType | None
    sensors: list[str]
    sensor: str | None
    measure: SensorMeasure | None
    dt_from: datetime
    dt_to: datetime
    newest_first: bool

    @property
    def complete(self) -> bool:
        return self.sensor is not None

    @property
    def measures(self) -> list[SensorMeasure]:
        """The table's columns."""
        if self.measure is not None:
            return [self.measure]
        return self.sensor_type.measures if self.sensor_type else []


@dataclass(frozen=True)
class Pages:
    number: int
    total: int

    @property
    def last(self) -> int:
        return max(math.ceil(self.total / PAGE_SIZE), 1)

    @property
    def first_row(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1

    @property
    def beyond(self) -> bool:
        """Asked for a page after the last one (an empty range has one, empty page)."""
        return self.number > self.last


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
    table = None
    if choice.complete:
        try:
            offset = min((number - 1) * PAGE_SIZE, FAR_OFFSET)
            table = _table(client, choice, offset=offset, limit=PAGE_SIZE)
        except ApiError as error:
            if not is_client_error(error):
                raise
            flash(describe(error.detail), "error")
    pages = Pages(number, table.total if table else 0)
    page = render_template(
        "readings/index.html",
        choice=choice,
        measure_key=measure_key,
        dt_from=format_input(choice.dt_from),
        dt_to=format_input(choice.dt_to),
        table=table,
        pages=pages,
        page_args=_page_args(choice),
        order_args=_page_args(choice, newest_first=not choice.newest_first),
    )
    return page, 404 if table is not None and pages.beyond else 200


@bp.route("/readings/download.csv")
@user_session.login_required
def download() -> ResponseReturnValue:
    """Every reading of the range: `timestamp,value` (the backend's export) for one measure,
    `timestamp,<measure>...` for all of them."""
    client = backend()
    try:
        choice = _choice(client)
        if choice.sensor is None or not choice.measures:
            raise BadChoice("Choose a sensor and a measure to download.")
        if choice.measure is not None:
            content: bytes | Iterator[str] = client.sensors.export_sensor_readings(
                choice.measure.name,
                choice.sensor,
                choice.dt_from,
                choice.dt_to,
                measure_units=choice.measure.units,
            )
            name = f"{choice.sensor}_{choice.measure.name}"
        else:
            content = csv_lines(_every_row(client, choice))
            name = choice.sensor
    except BadChoice as error:
        flash(str(error), "error")
        return redirect(_back())
    except ApiError as error:
        if not is_client_error(error):
            raise
        flash(describe(error.detail), "error")
        return redirect(_back())
    filename = f"{name}.csv".replace("/", "_").replace('"', "")
    return Response(
        content,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def csv_lines(tables: Iterator[ReadingsTable]) -> Iterator[str]:
    """timestamp,<measure name>...: the timestamp as the backend wrote it (UTC, ISO 8601);
    booleans as true/false, strings as text, an empty cell where a measure has no reading."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for number, table in enumerate(tables):
        if number == 0:
            writer.writerow(["timestamp", *(_heading(m) for m in table.measures)])
        for row in table.rows:
            stamp = row.timestamp.isoformat().replace("+00:00", "Z")
            writer.writerow([stamp, *(cell(value) for value in row.values)])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _heading(measure: SensorMeasure) -> str:
    return f"{measure.name} ({measure.units})" if measure.units else measure.name


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _every_row(client: Client, choice: Choice) -> Iterator[ReadingsTable]:
    offset = 0
    while True:
        table = _table(client, choice, offset=offset, limit=CSV_PAGE_SIZE)
        yield table
        offset += CSV_PAGE_SIZE
        if offset >= table.total:
            return


def _table(client: Client, choice: Choice, *, offset: int, limit: int) -> ReadingsTable:
    assert choice.sensor is not None
    return client.sensors.sensor_readings_table(
        choice.sensor,
        choice.dt_from,
        choice.dt_to,
        measures=[MeasureRequest(name=m.name, units=m.units) for m in choice.measures],
        offset=offset,
        limit=limit,
        newest_first=choice.newest_first,
    )


def _back() -> str:
    """The table page with the download's choices."""
    args: dict[str, Any] = request.args.to_dict()
    return url_for("readings.index", **args)


def _choice(client: Client) -> Choice:
    args = request.args
    types = client.sensors.list_sensor_types()
    sensor_type = find_type(types, args.get("type"))
    dt_from, dt_to = time_range(args.get("from"), args.get("to"))
    newest_first = args.get("order") == NEWEST_FIRST
    if sensor_type is None:
        return Choice(types, None, [], None, None, dt_from, dt_to, newest_first)
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
    return Choice(types, sensor_type, sensors, sensor, measure, dt_from, dt_to, newest_first)


def _page_args(choice: Choice, *, newest_first: bool | None = None) -> dict[str, str]:
    """The query of this choice, for links to its other pages (and its other order)."""
    if not choice.complete or choice.sensor_type is None:
        return {}
    args = {
        "type": choice.sensor_type.name,
        "sensor": str(choice.sensor),
        "measure": measure_key(choice.measure) if choice.measure else "",
        "from": format_input(choice.dt_from),
        "to": format_input(choice.dt_to),
    }
    if choice.newest_first if newest_first is None else newest_first:
        args["order"] = NEWEST_FIRST
    return args
