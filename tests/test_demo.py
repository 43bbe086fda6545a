"""The demo twin: loaded through the API, deterministic, realistic and idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from dtbase import demo, demo_loop
from dtbase.client import Client

END = datetime(2026, 3, 1, tzinfo=UTC)


def test_readings_are_deterministic_with_daily_cycles_and_noise() -> None:
    times = demo.timestamps(END)
    sensor = demo.SENSORS[0]

    first = demo.readings(sensor, demo.TEMPERATURE, times)
    again = demo.readings(sensor, demo.TEMPERATURE, times)

    assert first == again
    assert len(times) == 30 * 24 * 6
    assert times[0] == END - timedelta(days=30)
    values = np.array(first, dtype=float)
    hours = np.array([t.hour for t in times])
    by_hour = np.array([values[hours == h].mean() for h in range(24)])
    assert by_hour[14:17].mean() - by_hour[2:5].mean() > 3  # warm afternoons, cool nights
    assert np.std(np.diff(values)) > 0.05  # noisy, not a clean sine
    other = demo.readings(demo.SENSORS[1], demo.TEMPERATURE, times)
    assert other != first  # each sensor its own noise


def test_forecast_bands_are_nested_and_cover_the_observations() -> None:
    times = demo.timestamps(END)
    values = [float(v) for v in demo.readings(demo.SENSORS[0], demo.TEMPERATURE, times)]
    start = END - timedelta(days=2)

    result = demo.forecast(times, values, start)

    low68, high68 = result.bounds["68"]
    low95, high95 = result.bounds["95"]
    assert len(result.times) == demo.FORECAST_HOURS
    assert result.times[0] == start
    assert np.all(low95 < low68)
    assert np.all(low68 < result.mean)
    assert np.all(result.mean < high68)
    assert np.all(high68 < high95)
    # The hourly means of the last two days fall mostly inside the 95% band.
    observed = np.array(values)
    inside = 0
    for index, moment in enumerate(result.times[:48]):
        hour = observed[[moment <= t < moment + timedelta(hours=1) for t in times]].mean()
        inside += int(low95[index] <= hour <= high95[index])
    assert inside >= 40


def test_load_builds_the_twin_and_loading_again_adds_nothing(client: Client) -> None:
    summary = demo.load(client, end=END)

    assert summary.added["location schema"] == 1
    assert summary.added["locations"] == 3
    assert summary.added["sensor types"] == 3
    assert summary.added["sensors"] == 6
    assert summary.added["readings"] == 9 * 30 * 24 * 6  # 3 climate x 2 measures, 2 CO2, 1 door
    assert summary.added["model runs"] == 3
    assert [s.name for s in client.locations.list_location_schemas()] == [demo.SCHEMA]
    assert len(client.locations.list_locations(demo.SCHEMA)) == 3
    assert len(client.sensors.list_sensors()) == 6
    lab = client.sensors.list_sensor_locations("demo-climate-lab")
    assert lab[0].coordinates == demo.ROOMS["lab"]
    door = client.sensors.sensor_readings(
        "door open", "demo-door-store", END - timedelta(days=30), END
    )
    assert {reading.value for reading in door} == {True, False}

    runs = client.models.list_model_runs(demo.MODEL, dt_from=END - timedelta(days=3), dt_to=END)
    assert sorted(run.sensor_unique_id or "" for run in runs) == [
        "demo-climate-lab",
        "demo-climate-office",
        "demo-climate-store",
    ]
    values = client.models.get_model_run(runs[0].id)
    assert sorted(values) == sorted(
        f"{prefix} temperature"
        for prefix in ("Mean", "Upper Bound", "Lower Bound", "Upper Bound 95%", "Lower Bound 95%")
    )
    assert len(values["Mean temperature"]) == demo.FORECAST_HOURS

    again = demo.load(client, end=END)

    assert again.added == {}
    assert str(again) == "The demo data were all there already."
    assert len(client.sensors.list_sensors()) == 6
    assert (
        len(client.models.list_model_runs(demo.MODEL, dt_from=END - timedelta(days=3), dt_to=END))
        == 3
    )
    temperature = client.sensors.sensor_readings(
        "temperature",
        "demo-climate-lab",
        END - timedelta(days=31),
        END,
        measure_units="degrees Celsius",
    )
    assert len(temperature) == 30 * 24 * 6


NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _register_services(client: Client) -> None:
    for name in ("weather", "arima", "fdb_export"):
        client.services.insert_service(name, f"http://127.0.0.1:7071/api/{name}", "POST")


def test_the_demo_loop_schedules_weather_arima_and_the_fdb_export(client: Client) -> None:
    _register_services(client)

    lines = demo_loop.schedule(client, fdb=True, now=NOW)

    assert lines == [
        "weather every 10 min (at once)",
        "arima every 30 min (first after 30 s)",
        "fdb_export every 10 min (first after 1 min)",
    ]
    schedules = {s.name: s for s in client.services.list_schedules()}
    weather, arima, export = (
        schedules[n] for n in ("demo-weather", "demo-arima", "demo-fdb-export")
    )
    assert (weather.service_name, weather.parameter_set_name) == ("weather", "demo-london")
    assert weather.next_run_at == NOW
    assert arima.parameters == demo_loop.ARIMA_PARAMETERS
    assert arima.next_run_at == NOW + timedelta(seconds=30)
    assert (export.interval_seconds, export.next_run_at) == (600, NOW + timedelta(minutes=1))
    [parameter_set] = client.services.list_parameter_sets("weather")
    assert parameter_set.parameters == demo_loop.WEATHER_PARAMETERS

    # Again (a restart): what is there is kept, changes by the user included.
    client.services.edit_schedule("weather", "demo-weather", interval_seconds=3600)
    again = demo_loop.schedule(client, fdb=True, now=NOW + timedelta(days=1))

    assert again == [f"{name} kept as it is" for name in schedules]
    assert client.services.list_schedules("weather")[0].interval_seconds == 3600


def test_without_the_fdb_extra_the_export_is_not_scheduled_and_says_why(client: Client) -> None:
    _register_services(client)

    lines = demo_loop.schedule(client, fdb=False, now=NOW)

    assert "fdb_export not scheduled: the fdb extra is not installed" in lines[-1]
    assert [s.name for s in client.services.list_schedules()] == ["demo-weather", "demo-arima"]
