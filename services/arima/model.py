"""The ARIMA forecaster as a DTBase model service: readings in, one model run per sensor
and measure out.

It reads each series through the API, forecasts it with `services.arima.forecast`, and
writes runs the way DTBase's ARIMA did, so that the model page plots them over the
observations: model `Arima`, scenario `Business as usual`, measures `Mean <m>`,
`Upper Bound <m>` and `Lower Bound <m>` (the first interval level, 68% by default) plus
`Upper Bound 95% <m>` and `Lower Bound 95% <m>` for each further level, every run linked to
its sensor and sensor measure. "Now" is the time of the call (or the `now` parameter), and
every run of a call is created at that time: a run is told apart by its sensor measure, and
a repeated call with the same `now` writes nothing new (its runs are "already there").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dtbase.client import ApiError
from dtbase.schemas.sensors import SensorMeasure
from dtbase.sdk import BaseModel, Call
from services.common import ParameterError, known_keys, number, parse_time, string, utc

if TYPE_CHECKING:
    from services.arima.forecast import Forecast

MODEL_NAME = "Arima"
SCENARIO = "Business as usual"
PARAMETERS = {
    "sensors",
    "measures",
    "training_days",
    "horizon_hours",
    "interval_levels",
    "seasons",
    "step_minutes",
    "max_missing",
    "model_name",
    "scenario",
    "now",
}


@dataclass(frozen=True)
class MeasureRef:
    """A sensor measure by name, and by units where the name alone is ambiguous."""

    name: str
    units: str | None = None
    units_given: bool = False


@dataclass(frozen=True)
class ArimaRequest:
    sensors: tuple[str, ...]
    measures: tuple[MeasureRef, ...]
    training: timedelta
    horizon: timedelta
    levels: tuple[float, ...]
    season_hours: tuple[float, ...] | None  # None: detect
    step: timedelta | None  # None: from the readings
    max_missing: float
    model_name: str
    scenario: str
    now: datetime | None


def parse_request(parameters: Mapping[str, Any]) -> ArimaRequest:
    """Validate the parameters; `ParameterError` names the field at fault.

    `sensors` (unique identifiers) and `measures` (names, or `{"name", "units"}`) are
    required; `training_days` (56), `horizon_hours` (48), `interval_levels` ([68, 95]),
    `seasons` ("auto", or season lengths in hours, [] for none), `step_minutes` (from the
    readings), `max_missing` (0.2), `model_name`, `scenario` and `now` are optional.
    """
    known_keys(parameters, PARAMETERS)
    sensors = _strings(parameters.get("sensors"), "sensors")
    measures = _measures(parameters.get("measures"))
    training = number(parameters, "training_days", default=56, minimum=1, maximum=366)
    horizon = number(parameters, "horizon_hours", default=48, minimum=1, maximum=24 * 31)
    levels = _levels(parameters.get("interval_levels", [68, 95]))
    seasons = _seasons(parameters.get("seasons", "auto"))
    step = None
    if parameters.get("step_minutes") is not None:
        minutes = number(parameters, "step_minutes", minimum=1, maximum=7 * 24 * 60)
        step = timedelta(minutes=minutes)
    max_missing = number(parameters, "max_missing", default=0.2, minimum=0, maximum=1)
    now = None
    if parameters.get("now") is not None:
        now = parse_time(parameters["now"], "now", now=datetime.now(UTC))
    return ArimaRequest(
        sensors=sensors,
        measures=measures,
        training=timedelta(days=training),
        horizon=timedelta(hours=horizon),
        levels=levels,
        season_hours=seasons,
        step=step,
        max_missing=max_missing,
        model_name=string(parameters, "model_name", default=MODEL_NAME),
        scenario=string(parameters, "scenario", default=SCENARIO),
        now=now,
    )


def _strings(value: Any, field: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ParameterError(field, "is required: a non-empty list of strings")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ParameterError(f"{field}[{index}]", f"must be a non-empty string, got {item!r}")
    return tuple(dict.fromkeys(value))


def _measures(value: Any) -> tuple[MeasureRef, ...]:
    if isinstance(value, str | dict):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ParameterError("measures", "is required: a non-empty list of measure names")
    measures = []
    for index, item in enumerate(value):
        field = f"measures[{index}]"
        if isinstance(item, str) and item.strip():
            measures.append(MeasureRef(item))
        elif isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str):
            # DTBase's (name, units) pairs
            measures.append(MeasureRef(item[0], _units(item[1], field), True))
        elif isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
            given = "units" in item
            measures.append(MeasureRef(item["name"], _units(item.get("units"), field), given))
        else:
            raise ParameterError(
                field, f'must be a name or {{"name": ..., "units": ...}}, got {item!r}'
            )
    return tuple(dict.fromkeys(measures))


def _units(value: Any, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ParameterError(f"{field}.units", f"must be a string or null, got {value!r}")


def _levels(value: Any) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise ParameterError("interval_levels", "must be a non-empty list of percentages")
    levels = []
    for index, item in enumerate(value):
        level = number({"level": item}, "level", minimum=1, maximum=99.9)
        if level in levels:
            raise ParameterError(f"interval_levels[{index}]", f"{level:g} is listed twice")
        levels.append(level)
    return tuple(levels)


def _seasons(value: Any) -> tuple[float, ...] | None:
    if value == "auto" or value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        raise ParameterError("seasons", f'must be "auto" or a list of hours, got {value!r}')
    hours = []
    for index, item in enumerate(value):
        hours.append(number({"season": item}, "season", minimum=0.02, maximum=24 * 400))
        if hours[-1] in hours[:-1]:
            raise ParameterError(f"seasons[{index}]", "is listed twice")
    return tuple(hours)


def level_names(measure: str, levels: Sequence[float]) -> list[tuple[float, str, str]]:
    """(level, lower name, upper name): DTBase's names for the first level."""
    names = []
    for index, level in enumerate(levels):
        suffix = "" if index == 0 else f" {level:g}%"
        names.append((level, f"Lower Bound{suffix} {measure}", f"Upper Bound{suffix} {measure}"))
    return names


class ArimaModel(BaseModel):
    """`get_service_data(**parameters)` reads, forecasts and returns the model-run calls."""

    def __init__(
        self,
        backend_url: str | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(backend_url, **kwargs)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.report: dict[str, Any] = {}
        self._sensor_measures: dict[str, list[SensorMeasure]] | None = None

    def get_service_data(self, **parameters: Any) -> list[Call]:
        request = parse_request(parameters)
        self._sensor_measures = None
        now = request.now or utc(self.clock())
        calls: list[Call] = [
            ("/model/insert-model", {"name": request.model_name}),
            (
                "/model/insert-model-scenario",
                {"model_name": request.model_name, "description": request.scenario},
            ),
        ]
        declared: set[tuple[str, str]] = set()
        series_reports = []
        for sensor in request.sensors:
            for measure in request.measures:
                report: dict[str, Any] = {"sensor": sensor, "measure": measure.name}
                series_reports.append(report)
                try:
                    units = self._units(sensor, measure)
                    report["units"] = units
                    times, values = self._readings(sensor, measure, units, now, request)
                    result, step, first = self._forecast(times, values, now, request)
                except SeriesProblem as problem:
                    report["error"] = str(problem)
                    self.report_problem(f"{sensor} / {measure.name}: {problem}")
                    continue
                model_units = units or ""
                names = [f"Mean {measure.name}"]
                for _, lower, upper in level_names(measure.name, request.levels):
                    names += [upper, lower]
                for name in names:
                    if (name, model_units) not in declared:
                        declared.add((name, model_units))
                        body = {"name": name, "units": model_units, "datatype": "float"}
                        calls.append(("/model/insert-model-measure", body))
                run = self._run(request, sensor, measure, units, result, first, step)
                run["time_created"] = _iso(now)
                calls.append(("/model/insert-model-run", run))
                report |= _describe(result, step, first, len(values))
        self.report = {
            "model_name": request.model_name,
            "scenario": request.scenario,
            "now": _iso(now),
            "series": series_reports,
        }
        return calls

    # Reading

    def _units(self, sensor: str, measure: MeasureRef) -> str | None:
        """The sensor measure's units: given, or the only measure of that name of the
        sensor's type."""
        if measure.units_given:
            return measure.units
        measures = self._type_measures().get(sensor)
        if measures is None:
            raise SeriesProblem("no such sensor")
        matching = [m.units for m in measures if m.name == measure.name]
        if not matching:
            known = ", ".join(sorted({m.name for m in measures})) or "none"
            raise SeriesProblem(f"the sensor has no measure of that name (it has: {known})")
        if len(matching) > 1:
            raise SeriesProblem(
                f"several measures of that name ({matching}): give measures as "
                '{"name": ..., "units": ...}'
            )
        return matching[0]

    def _type_measures(self) -> dict[str, list[SensorMeasure]]:
        """Each sensor's measures (those of its type), read once per call."""
        if self._sensor_measures is None:
            found: dict[str, list[SensorMeasure]] = {}
            for sensor_type in self.client.sensors.list_sensor_types():
                for sensor in self.client.sensors.list_sensors(type_name=sensor_type.name):
                    found[sensor.unique_identifier] = list(sensor_type.measures)
            self._sensor_measures = found
        return self._sensor_measures

    def _readings(
        self,
        sensor: str,
        measure: MeasureRef,
        units: str | None,
        now: datetime,
        request: ArimaRequest,
    ) -> tuple[list[datetime], list[float]]:
        try:
            readings = self.client.sensors.sensor_readings(
                measure.name,
                sensor,
                dt_from=now - request.training,
                dt_to=now,
                measure_units=units,
            )
        except ApiError as error:
            raise SeriesProblem(f"could not read the readings: {error}") from error
        times, values = [], []
        for reading in readings:
            value = reading.value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SeriesProblem(f"readings are not numbers (got {value!r})")
            times.append(reading.timestamp)
            values.append(float(value))
        if not times:
            raise SeriesProblem(
                f"too little data: no readings between {_iso(now - request.training)} "
                f"and {_iso(now)}"
            )
        return times, values

    # Forecasting

    def _forecast(
        self, times: list[datetime], values: list[float], now: datetime, request: ArimaRequest
    ) -> tuple[Forecast, timedelta, datetime]:
        # statsmodels loads only here: the services host starts without it.
        from services.arima import forecast as arima

        try:
            grid = arima.to_grid(times, values, request.step)
        except arima.NotEnoughData as error:
            raise SeriesProblem(f"too little data: {error}") from error
        step = grid.step
        behind = now - grid.end
        if behind > request.horizon:
            raise SeriesProblem(
                f"too little data: the last reading ({_iso(grid.end)}) is more than the "
                f"horizon ({request.horizon}) before now ({_iso(now)})"
            )
        horizon = max(1, math.floor((behind + request.horizon) / step))
        candidates = arima.calendar_periods(step)
        periods = None
        if request.season_hours is not None:
            periods = [round(hours * 3600 / step.total_seconds()) for hours in request.season_hours]
            if any(period < 2 for period in periods):
                raise SeriesProblem(f"a season must be at least two steps of {step}")
        try:
            result = arima.forecast(
                grid.values,
                horizon,
                candidates=candidates,
                periods=periods,
                levels=request.levels,
                max_missing=request.max_missing,
                step=step,
            )
        except arima.NotEnoughData as error:
            raise SeriesProblem(f"too little data: {error}") from error
        return result, step, grid.end + step

    def _run(
        self,
        request: ArimaRequest,
        sensor: str,
        measure: MeasureRef,
        units: str | None,
        result: Forecast,
        first: datetime,
        step: timedelta,
    ) -> dict[str, Any]:
        timestamps = [_iso(first + i * step) for i in range(len(result.mean))]
        model_units = units or ""

        def output(name: str, values: Any) -> dict[str, Any]:
            return {
                "measure_name": name,
                "units": model_units,
                "values": [float(value) for value in values],
                "timestamps": timestamps,
            }

        outputs = [output(f"Mean {measure.name}", result.mean)]
        for level, lower, upper in level_names(measure.name, request.levels):
            low, high = result.bounds[level]
            outputs += [output(upper, high), output(lower, low)]
        return {
            "model_name": request.model_name,
            "scenario_description": request.scenario,
            "create_scenario": True,
            "measures_and_values": outputs,
            "sensor_unique_id": sensor,
            "sensor_measure": {"name": measure.name, "units": units},
        }


class SeriesProblem(Exception):
    """One sensor measure could not be forecast; the others go on."""


def _describe(result: Forecast, step: timedelta, first: datetime, readings: int) -> dict[str, Any]:
    hours = step.total_seconds() / 3600
    return {
        "readings": readings,
        "method": result.method,
        "fallback": result.fallback,
        "seasons_hours": [round(period * hours, 4) for period in result.periods],
        "order": list(result.order) if result.order else None,
        "step_minutes": step.total_seconds() / 60,
        "missing_fraction": round(result.missing_fraction, 4),
        "filled": result.filled,
        "interval_scale": {f"{level:g}": round(s, 3) for level, s in result.interval_scale.items()},
        "first_forecast": _iso(first),
        "steps": len(result.mean),
        "notes": list(result.notes),
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
