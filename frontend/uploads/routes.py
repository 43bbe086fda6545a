"""Readings uploaded from the web: a page per sensor and one for many sensors at once.

The file goes through the backend client to `insert-readings-bulk-csv` as it arrived
(Werkzeug spools it to disk, httpx sends it in chunks): the frontend never holds it
whole. The page's script shows a preview of the first lines, sends the form with a
progress bar and puts the answer (`_result.html`) in the page; without JavaScript the
form posts and the whole page comes back with the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue

from dtbase.client import ApiError, Client
from dtbase.schemas.sensors import CsvUploadReport, SensorType
from frontend.auth import session as user_session
from frontend.auth.roles import may_write
from frontend.backend import backend, is_client_error
from frontend.sensors.catalog import (
    BadChoice,
    find_measure,
    format_input,
    measure_key,
    sensor_or_404,
)
from frontend.uploads import templates
from frontend.uploads.forms import UploadForm

bp = Blueprint("uploads", __name__, template_folder="templates")

# The page's script asks for the answer alone with this header.
FRAGMENT_HEADER = "X-Requested-With"
# Seconds to wait for the backend's answer to an upload: it checks every line first (a
# 20 MB file of 750,000 lines takes it a few seconds, more on a busy machine).
UPLOAD_TIMEOUT = 300.0


@dataclass
class Outcome:
    """The backend's answer to an upload, as the page shows it."""

    status: int
    report: CsvUploadReport | None = None
    refused: list[str] = field(default_factory=list)
    refused_count: int = 0
    plot_url: str | None = None


@dataclass(frozen=True)
class Target:
    """What the page uploads to: one sensor (with its type) or any sensors (None)."""

    sensor: str | None = None
    sensor_type: SensorType | None = None


def may_upload() -> bool:
    """Whether the logged-in user's role may insert readings (the backend's `Writer`)."""
    user = user_session.current_or_none()
    return user is not None and may_write(user.role)


@bp.route("/uploads/index")
@user_session.login_required
def index() -> ResponseReturnValue:
    return _page(Target(), UploadForm())


@bp.route("/uploads/sensor/<path:unique_identifier>")
@user_session.login_required
def sensor(unique_identifier: str) -> ResponseReturnValue:
    return _page(_target(backend(), unique_identifier), UploadForm(sensor=unique_identifier))


@bp.route("/uploads/template.csv")
@user_session.login_required
def template() -> ResponseReturnValue:
    """`?sensor=...&measure=...`: one measure's `timestamp,value`; else the series layout
    with the real sensors and measures."""
    client = backend()
    unique_identifier = request.args.get("sensor")
    if unique_identifier:
        target = _target(client, unique_identifier)
        assert target.sensor_type is not None
        try:
            measure = find_measure(target.sensor_type, request.args.get("measure", ""))
        except BadChoice:
            abort(404)  # a measure its type does not have: no such template
        content = templates.one_measure(measure)
        stem = f"{unique_identifier}-{measure.name}"
    else:
        content = templates.many_sensors(_sensors(client))
        stem = "readings"
    return Response(
        content,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_safe(stem)}"'},
    )


@bp.route("/uploads/upload", methods=["POST"])
@user_session.login_required
def upload() -> ResponseReturnValue:
    if not may_upload():
        abort(403)
    client = backend()
    form = UploadForm()
    unique_identifier = form.sensor.data or None
    target = _target(client, unique_identifier) if unique_identifier else Target()
    outcome = _send(client, form, target)
    if request.headers.get(FRAGMENT_HEADER):
        return render_template("uploads/_result.html", outcome=outcome), outcome.status
    return _page(target, form, outcome)


def _send(client: Client, form: UploadForm, target: Target) -> Outcome:
    if not form.validate_on_submit():
        return Outcome(400, refused=["The form has expired: reload the page and try again."])
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return Outcome(400, refused=["Choose a CSV file to upload."])
    named: dict[str, str] = {}
    if target.sensor is not None and target.sensor_type is not None:
        try:
            measure = find_measure(target.sensor_type, form.measure.data or "")
        except BadChoice as error:
            return Outcome(400, refused=[str(error)])
        named = {
            "unique_identifier": target.sensor,
            "measure_name": measure.name,
            "measure_units": measure.units or "",
        }
    try:
        report = client.sensors.insert_readings_csv(
            upload.stream,
            **named,
            overwrite=bool(form.overwrite.data),
            skip_bad_lines=bool(form.skip_bad_lines.data),
            dry_run=bool(form.dry_run.data),
            filename=upload.filename,
            timeout=UPLOAD_TIMEOUT,
        )
    except ApiError as error:
        if not is_client_error(error):
            raise
        return _refused(error)
    return Outcome(201 if not report.dry_run else 200, report, plot_url=_plot_url(target, report))


def _refused(error: ApiError) -> Outcome:
    """A refused upload: every problem the backend listed, and how many there are."""
    detail = error.detail
    if not isinstance(detail, list):
        return Outcome(error.status_code, refused=[str(detail)], refused_count=1)
    messages = [str(item.get("msg", item) if isinstance(item, dict) else item) for item in detail]
    count = len(messages)
    last = detail[-1] if detail else None
    if isinstance(last, dict) and last.get("type") == "too_many_errors":
        count = int(last.get("input") or count)
    return Outcome(error.status_code, refused=messages, refused_count=count)


def _plot_url(target: Target, report: CsvUploadReport) -> str | None:
    """The time-series page over the uploaded lines' times, for one sensor's upload."""
    first, last = report.first_timestamp, report.last_timestamp
    if target.sensor is None or target.sensor_type is None or first is None or last is None:
        return None
    arguments: dict[str, Any] = {
        "type": target.sensor_type.name,
        "sensors": target.sensor,
        "from": format_input(first),
        "to": format_input(_next_minute(last)),
    }
    return url_for("timeseries.index", **arguments)


def _next_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _page(target: Target, form: UploadForm, outcome: Outcome | None = None) -> ResponseReturnValue:
    if target.sensor_type is not None:
        form.measure.choices = [
            (measure_key(m), f"{m.name} ({m.units})" if m.units else m.name)
            for m in target.sensor_type.measures
        ]
    page = render_template(
        "uploads/upload.html",
        target=target,
        form=form,
        outcome=outcome,
        may_upload=may_upload(),
        max_bytes=request.max_content_length,
        measure_key=measure_key,
    )
    return page, outcome.status if outcome else 200


def _target(client: Client, unique_identifier: str) -> Target:
    found = sensor_or_404(client, unique_identifier)
    types = {item.name: item for item in client.sensors.list_sensor_types()}
    return Target(unique_identifier, types[found.type_name])


def _sensors(client: Client) -> list[tuple[str, SensorType]]:
    sensors: list[tuple[str, SensorType]] = []
    for sensor_type in client.sensors.list_sensor_types():
        if sensor_type.measures:
            listed = client.sensors.list_sensors(sensor_type.name, limit=templates.MAX_EXAMPLE_ROWS)
            sensors.extend((item.unique_identifier, sensor_type) for item in listed)
    return sensors


def _safe(stem: str) -> str:
    kept = "".join(c if c.isalnum() or c in "._-" else "_" for c in stem)[:80]
    return templates.filename(kept or "readings")
