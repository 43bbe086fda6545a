"""The models area: models, scenarios and measures; runs filtered by model, scenario and
date; a run's plot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, flash, render_template, request
from flask.typing import ResponseReturnValue

from dtbase.client import ApiError, describe
from dtbase.schemas.models import ModelRun, ModelRunSensorMeasure, ModelValuePoint
from frontend.auth import session as user_session
from frontend.backend import backend, is_client_error
from frontend.errors.routes import render_error
from frontend.models.charts import Chart, add_observed, run_charts, time_span, units_by_name

bp = Blueprint("models", __name__, template_folder="templates")


@dataclass(frozen=True)
class RunFilter:
    model: str
    scenario: str
    dt_from: date | None
    dt_to: date | None


class FilterProblem(ValueError):
    pass


@bp.route("/models/index")
@user_session.login_required
def index() -> ResponseReturnValue:
    client = backend()
    models = client.models.list_models()
    scenarios = client.models.list_model_scenarios()
    measures = client.models.list_model_measures()
    status = 200
    runs: list[ModelRun] | None = None
    try:
        chosen = _filter()
    except FilterProblem as problem:
        flash(str(problem), "error")
        chosen, status = RunFilter("", "", None, None), 400
    model = chosen.model or (models[0].name if models else "")
    if model and status == 200:
        try:
            runs = client.models.list_model_runs(
                model,
                dt_from=_start(chosen.dt_from),
                dt_to=_end(chosen.dt_to),
                scenario=chosen.scenario or None,
            )
            runs.sort(key=lambda run: (run.time_created, run.id), reverse=True)
        except ApiError as error:
            if not is_client_error(error):
                raise
            flash(describe(error.detail), "error")
            status = error.status_code
    return (
        render_template(
            "models/index.html",
            models=models,
            scenarios=scenarios,
            measures=measures,
            model=model,
            chosen=chosen,
            model_scenarios=[s for s in scenarios if s.model_name == model],
            runs=runs,
        ),
        status,
    )


@bp.route("/models/run/<int:run_id>")
@user_session.login_required
def run(run_id: int) -> ResponseReturnValue:
    client = backend()
    try:
        # Asked first: get-model-run answers {} for a run that does not exist (DTBase's way).
        link = client.models.get_model_run_sensor_measure(run_id)
    except ApiError as error:
        # DTBase's API answers 400 for a run that does not exist: to a page, that is a 404.
        if error.status_code in (400, 404):
            return render_error(404, describe(error.detail))
        raise
    values = client.models.get_model_run(run_id)
    charts = run_charts(values, units_by_name(client.models.list_model_measures()))
    observed_note = _observe(charts, link, values)
    return render_template(
        "models/run.html",
        run_id=run_id,
        link=link,
        charts=[chart.as_json() for chart in charts],
        measures=sorted(values),
        points=sum(len(points) for points in values.values()),
        observed_note=observed_note,
    )


def _observe(
    charts: list[Chart],
    link: ModelRunSensorMeasure,
    values: Mapping[str, Sequence[ModelValuePoint]],
) -> str | None:
    """Add the linked sensor's readings over the run's period (and as long before it);
    a sentence when there are none to show."""
    if link.sensor_unique_id is None or link.sensor_measure is None:
        return "This run is not linked to a sensor: only the model's values are shown."
    span = time_span(values)
    if span is None:
        return "This run has no values."
    first, last = span
    context = max(last - first, timedelta(hours=1))
    measure = link.sensor_measure
    try:
        readings = backend().sensors.sensor_readings(
            measure.name,
            link.sensor_unique_id,
            first - context,
            last,
            measure_units=measure.units,
        )
    except ApiError as error:
        if not is_client_error(error):
            raise
        return f"The observed readings could not be read: {describe(error.detail)}"
    if not add_observed(charts, measure.name, readings):
        return f"No chart of this run shows {measure.name}, so its readings are not drawn."
    if not readings:
        return f"The sensor {link.sensor_unique_id} has no {measure.name} readings in this period."
    return None


def _filter() -> RunFilter:
    get = request.args.get
    dt_from, dt_to = _date(get("dt_from"), "From"), _date(get("dt_to"), "To")
    if dt_from and dt_to and dt_from > dt_to:
        raise FilterProblem("From: the first day comes after the last one.")
    return RunFilter(get("model", "").strip(), get("scenario", "").strip(), dt_from, dt_to)


def _date(text: str | None, label: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FilterProblem(f"{label}: {text!r} is not a date (YYYY-MM-DD).") from None


def _start(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time.min, tzinfo=UTC)


def _end(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time.max, tzinfo=UTC)
