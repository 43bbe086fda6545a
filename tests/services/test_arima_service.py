"""The ARIMA service against the real backend: readings in, model runs out."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from dtbase.client import Client
from dtbase.schemas.sensors import SensorMeasure
from services.arima import handler as arima
from services.arima.model import level_names, parse_request
from services.common import ParameterError

HOUR = timedelta(hours=1)
NAMES = {
    "Mean temperature",
    "Upper Bound temperature",
    "Lower Bound temperature",
    "Upper Bound 95% temperature",
    "Lower Bound 95% temperature",
}


def _series(n: int, seed: int = 11) -> list[float]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.6 * noise[i - 1] + rng.normal(0, 0.3)
    values = 18 + 4 * np.sin(2 * np.pi * t / 24) + noise
    return [round(float(v), 3) for v in values]


def _sensor(client: Client) -> None:
    client.sensors.insert_sensor_type(
        "thermo-hygrometer",
        [
            SensorMeasure(name="temperature", units="degrees Celsius", datatype="float"),
            SensorMeasure(name="humidity", units="percent", datatype="float"),
        ],
    )
    client.sensors.insert_sensor("thermo-hygrometer", "TRH1")


def _setup(client: Client, last: datetime, hours: int = 24 * 21) -> list[datetime]:
    """Sensor TRH1: three weeks of hourly temperatures up to `last`, ten humidities."""
    _sensor(client)
    times = [last - (hours - 1 - i) * HOUR for i in range(hours)]
    client.sensors.insert_sensor_readings("temperature", "TRH1", _series(hours), times)
    client.sensors.insert_sensor_readings("humidity", "TRH1", [60.0] * 10, times[-10:])
    return times


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({}, "sensors"),
        ({"sensors": [], "measures": ["t"]}, "sensors"),
        ({"sensors": ["S", 3], "measures": ["t"]}, "sensors[1]"),
        ({"sensors": ["S"]}, "measures"),
        ({"sensors": ["S"], "measures": [{"units": "K"}]}, "measures[0]"),
        ({"sensors": ["S"], "measures": [{"name": "t", "units": 3}]}, "measures[0].units"),
        ({"sensors": ["S"], "measures": ["t"], "horizon_hours": 0}, "horizon_hours"),
        ({"sensors": ["S"], "measures": ["t"], "training_days": "long"}, "training_days"),
        ({"sensors": ["S"], "measures": ["t"], "interval_levels": [68, 100]}, "level"),
        ({"sensors": ["S"], "measures": ["t"], "interval_levels": [95, 95]}, "interval_levels[1]"),
        ({"sensors": ["S"], "measures": ["t"], "seasons": "weekly"}, "seasons"),
        ({"sensors": ["S"], "measures": ["t"], "now": "soon"}, "now"),
        ({"sensors": ["S"], "measures": ["t"], "dt_user_password": "x"}, "dt_user_password"),
    ],
)
def test_bad_parameters_name_the_field(parameters: dict[str, Any], field: str) -> None:
    with pytest.raises(ParameterError) as raised:
        arima.handle(parameters)

    assert raised.value.field == field


def test_parameters_have_dtbase_defaults() -> None:
    request = parse_request({"sensors": "TRH1", "measures": [["Temperature", "Degrees C"]]})

    assert request.sensors == ("TRH1",)
    assert (request.measures[0].name, request.measures[0].units) == ("Temperature", "Degrees C")
    assert request.training == timedelta(days=56)
    assert request.horizon == timedelta(hours=48)
    assert request.levels == (68.0, 95.0)
    assert (request.model_name, request.scenario) == ("Arima", "Business as usual")
    assert request.season_hours is None
    assert request.now is None
    assert level_names("t", [68, 95, 99.5])[2] == (
        99.5,
        "Lower Bound 99.5% t",
        "Upper Bound 99.5% t",
    )


def test_a_forecast_run_per_sensor_measure_from_the_call_time(
    backend_env: str, client: Client
) -> None:
    now = datetime.now(UTC)
    last = now.replace(minute=0, second=0, microsecond=0)
    _setup(client, last)

    summary = arima.handle({"sensors": ["TRH1"], "measures": ["temperature"]})

    assert summary["ok"], json.dumps(summary, indent=1)
    (series,) = summary["series"]
    assert series["method"] == "mstl-arima"
    assert series["seasons_hours"] == [24]
    assert series["units"] == "degrees Celsius"
    (run,) = client.models.list_model_runs("Arima")
    assert run.scenario_description == "Business as usual"
    assert run.sensor_unique_id == "TRH1"
    assert run.sensor_measure is not None
    assert (run.sensor_measure.name, run.sensor_measure.units) == ("temperature", "degrees Celsius")
    values = client.models.get_model_run(run.id)
    assert set(values) == NAMES
    mean = [float(point.value) for point in values["Mean temperature"]]
    stamps = [point.timestamp for point in values["Mean temperature"]]
    assert stamps[0] == last + HOUR
    assert stamps[-1] >= now + timedelta(hours=47)
    assert all(b - a == HOUR for a, b in itertools.pairwise(stamps))
    low68 = [float(p.value) for p in values["Lower Bound temperature"]]
    high95 = [float(p.value) for p in values["Upper Bound 95% temperature"]]
    high68 = [float(p.value) for p in values["Upper Bound temperature"]]
    assert all(
        lo < m < hi <= top for lo, m, hi, top in zip(low68, mean, high68, high95, strict=True)
    )
    # The daily cycle is there: 18 +- 4.
    assert 20 < max(mean[:24]) < 24
    assert 12 < min(mean[:24]) < 16
    measures = {(m.name, m.units) for m in client.models.list_model_measures()}
    assert measures == {(name, "degrees Celsius") for name in NAMES}


def test_series_that_cannot_be_forecast_are_reported_and_the_rest_goes_on(
    backend_env: str, client: Client
) -> None:
    now = datetime(2024, 2, 1, 12, tzinfo=UTC)
    _setup(client, now - HOUR)

    summary = arima.handle(
        {
            "sensors": ["TRH1", "nope"],
            "measures": ["temperature", "humidity", "pressure"],
            "now": now.isoformat(),
        }
    )

    assert summary["ok"] is False
    errors = {(s["sensor"], s["measure"]): s.get("error") for s in summary["series"]}
    assert errors[("TRH1", "temperature")] is None
    assert errors[("TRH1", "humidity")].startswith("too little data: 10 readings")
    assert errors[("TRH1", "pressure")].startswith("the sensor has no measure of that name")
    assert errors[("nope", "temperature")] == "no such sensor"
    assert "TRH1 / humidity: too little data" in " ".join(summary["problems"])
    assert summary["failed"] == 0
    (run,) = client.models.list_model_runs("Arima", dt_from=now - timedelta(days=1000))
    assert run.sensor_measure is not None
    assert run.sensor_measure.name == "temperature"


def test_stale_or_missing_data_is_too_little_data(backend_env: str, client: Client) -> None:
    now = datetime(2024, 2, 1, 12, tzinfo=UTC)
    _setup(client, now - timedelta(days=5))

    stale = arima.handle({"sensors": ["TRH1"], "measures": ["temperature"], "now": now.isoformat()})
    empty = arima.handle(
        {"sensors": ["TRH1"], "measures": ["temperature"], "now": "2020-01-01T00:00:00Z"}
    )

    assert stale["ok"] is False
    assert "more than the horizon" in stale["series"][0]["error"]
    assert empty["series"][0]["error"].startswith("too little data: no readings between")


def test_a_rerun_as_of_the_same_now_finds_its_run_already_there(
    backend_env: str, client: Client
) -> None:
    now = datetime(2024, 2, 1, 12, tzinfo=UTC)
    _setup(client, now)
    parameters = {
        "sensors": ["TRH1"],
        "measures": [{"name": "temperature", "units": "degrees Celsius"}],
        "now": now.isoformat(),
        "horizon_hours": 12,
        "interval_levels": [68],
        "seasons": [24],
    }

    first = arima.handle(parameters)
    second = arima.handle(parameters)

    assert first["ok"]
    assert second["ok"], second
    assert second["already_there"] == 2 + 3 + 1  # model, scenario, three measures, the run
    (run,) = client.models.list_model_runs("Arima", dt_from=now - timedelta(days=1000))
    assert run.time_created == now
    values = client.models.get_model_run(run.id)
    assert set(values) == {"Mean temperature", "Upper Bound temperature", "Lower Bound temperature"}
    assert len(values["Mean temperature"]) == 12


def test_one_call_for_two_sensors_writes_two_runs_of_one_time(
    backend_env: str, client: Client
) -> None:
    now = datetime(2024, 2, 1, 12, tzinfo=UTC)
    _setup(client, now)
    client.sensors.insert_sensor("thermo-hygrometer", "TRH2")
    hours = [now - (24 * 21 - 1 - i) * HOUR for i in range(24 * 21)]
    warmer = [value + 5 for value in _series(len(hours))]
    client.sensors.insert_sensor_readings("temperature", "TRH2", warmer, hours)

    summary = arima.handle(
        {"sensors": ["TRH1", "TRH2"], "measures": ["temperature"], "now": now.isoformat()}
    )

    assert summary["ok"], summary
    runs = client.models.list_model_runs("Arima", dt_from=now - timedelta(days=1000))
    assert [(run.sensor_unique_id, run.time_created) for run in runs] == [
        ("TRH1", now),
        ("TRH2", now),
    ]
    means = [client.models.get_model_run(run.id)["Mean temperature"] for run in runs]
    first, second = ([float(point.value) for point in mean] for mean in means)
    assert sum(second) / len(second) - sum(first) / len(first) == pytest.approx(5, abs=1)


def test_gappy_data_get_a_flagged_fallback(backend_env: str, client: Client) -> None:
    now = datetime(2024, 2, 1, 12, tzinfo=UTC)
    _sensor(client)
    hours = [now - (24 * 21 - i) * HOUR for i in range(24 * 21) if i % 3]  # a third missing
    client.sensors.insert_sensor_readings("temperature", "TRH1", _series(len(hours)), hours)

    summary = arima.handle(
        {"sensors": ["TRH1"], "measures": ["temperature"], "now": now.isoformat()}
    )

    assert summary["ok"], summary
    series = summary["series"][0]
    assert series["method"] == "weekly-naive"
    assert series["fallback"] is True
    assert series["missing_fraction"] > 0.2
