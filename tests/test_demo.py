"""The demo twin: loaded through the API, deterministic, realistic and idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from statistics import fmean, pstdev

from dtbase import demo, demo_loop
from dtbase.client import Client

END = datetime(2026, 3, 1, tzinfo=UTC)
MONTH = 30 * 24 * 6  # readings of one measure


def test_readings_are_deterministic_with_daily_cycles_and_noise() -> None:
    times = demo.timestamps(END)
    sensor = demo.SENSORS[0]

    first = demo.readings(sensor, demo.TEMPERATURE, times)
    again = demo.readings(sensor, demo.TEMPERATURE, times)

    assert first == again
    assert len(times) == MONTH
    assert (times[0], times[-1]) == (END - timedelta(days=30) + demo.STEP, END)
    values = [float(v) for v in first]
    by_hour = [
        fmean(v for t, v in zip(times, values, strict=True) if t.hour == h) for h in range(24)
    ]
    assert fmean(by_hour[14:17]) - fmean(by_hour[2:5]) > 3  # warm afternoons, cool nights
    assert pstdev(b - a for a, b in pairwise(values)) > 0.05  # noisy, not a sine
    other = demo.readings(demo.SENSORS[1], demo.TEMPERATURE, times)
    assert other != first  # each sensor its own noise


def test_a_reading_depends_on_its_time_not_on_the_load_s_end() -> None:
    """So a load a day later agrees with the first where they overlap."""
    month, later = demo.timestamps(END), demo.timestamps(END + timedelta(days=1))
    for sensor in demo.SENSORS:
        for measure in demo.SENSOR_TYPES[sensor.type_name]:
            first = dict(zip(month, demo.readings(sensor, measure, month), strict=True))
            second = dict(zip(later, demo.readings(sensor, measure, later), strict=True))
            overlap = first.keys() & second.keys()
            assert len(overlap) == MONTH - 24 * 6
            assert all(first[t] == second[t] for t in overlap), (sensor, measure)


def test_the_demo_ends_now_floored_to_its_step() -> None:
    assert demo.default_end(datetime(2026, 3, 1, 9, 37, 12, 5, tzinfo=UTC)) == datetime(
        2026, 3, 1, 9, 30, tzinfo=UTC
    )
    assert demo.default_end(datetime(2026, 3, 1, 9, 40, tzinfo=UTC)) == datetime(
        2026, 3, 1, 9, 40, tzinfo=UTC
    )
    before = datetime.now(UTC)
    end = demo.default_end()
    assert before - demo.STEP < end <= datetime.now(UTC)


def test_forecast_bands_are_nested_and_cover_the_observations() -> None:
    times = demo.timestamps(END)
    values = [float(v) for v in demo.readings(demo.SENSORS[0], demo.TEMPERATURE, times)]
    start = END - timedelta(days=2)  # so that two days of readings can check it

    result = demo.forecast(times, values, start)

    low68, high68 = result.bounds["68"]
    low95, high95 = result.bounds["95"]
    assert len(result.times) == demo.FORECAST_HOURS
    assert result.times[0] == start
    rows = list(zip(low95, low68, result.mean, high68, high95, strict=True))
    assert all(a < b < c < d < e for a, b, c, d, e in rows)
    # The hourly means of the last two days fall mostly inside the 95% band.
    inside = 0
    for index, moment in enumerate(result.times[:48]):
        hour = fmean(
            v
            for t, v in zip(times, values, strict=True)
            if moment <= t < moment + timedelta(hours=1)
        )
        inside += int(low95[index] <= hour <= high95[index])
    assert inside >= 40


def _temperatures(client: Client, dt_from: datetime, dt_to: datetime) -> list[datetime]:
    readings = client.sensors.sensor_readings(
        "temperature", "demo-climate-lab", dt_from, dt_to, measure_units="degrees Celsius"
    )
    return [reading.timestamp for reading in readings]


def test_load_builds_the_twin_and_loading_again_adds_nothing(client: Client) -> None:
    summary = demo.load(client, end=END)

    assert summary.added["location schema"] == 1
    assert summary.added["locations"] == 3
    assert summary.added["sensor types"] == 3
    assert summary.added["sensors"] == 6
    assert summary.added["readings"] == 9 * MONTH  # 3 climate x 2 measures, 2 CO2, 1 door
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
    # The forecast starts from the last reading, as one made at load time would.
    assert _temperatures(client, END - timedelta(days=31), END + timedelta(days=1))[-1] == END
    assert values["Mean temperature"][0].timestamp == END

    again = demo.load(client, end=END)

    assert again.added == {}
    assert str(again) == "The demo data were all there already."
    assert len(client.sensors.list_sensors()) == 6
    assert (
        len(client.models.list_model_runs(demo.MODEL, dt_from=END - timedelta(days=3), dt_to=END))
        == 3
    )
    assert len(_temperatures(client, END - timedelta(days=31), END)) == MONTH


def test_a_later_load_tops_the_readings_up_to_its_end(client: Client) -> None:
    demo.load(client, end=END)
    later = END + timedelta(hours=5)

    summary = demo.load(client, end=later)

    assert summary.added == {"readings": 9 * 5 * 6, "model runs": 3}
    stored = _temperatures(client, END - timedelta(days=31), later)
    assert len(stored) == MONTH + 5 * 6
    assert stored[-1] == later
    assert all(b - a == demo.STEP for a, b in pairwise(stored))


def test_load_at_the_current_time_ends_now(client: Client) -> None:
    """Right after `up --demo` no reading is stale: the last is less than a step old."""
    before = datetime.now(UTC)
    demo.load(client)

    now = datetime.now(UTC)
    [last] = _temperatures(client, before - demo.STEP, now)[-1:]
    assert before - demo.STEP < last <= now
    runs = client.models.list_model_runs(demo.MODEL, dt_from=last, dt_to=last)
    assert len(runs) == 3
    mean = client.models.get_model_run(runs[0].id)["Mean temperature"]
    assert (mean[0].timestamp, mean[-1].timestamp) == (
        last,
        last + timedelta(hours=demo.FORECAST_HOURS - 1),
    )


NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _register_services(client: Client) -> None:
    for name in ("weather", "arima", "fdb_export"):
        client.services.insert_service(name, f"http://127.0.0.1:7071/api/{name}", "POST")


def test_the_demo_loop_schedules_weather_arima_and_the_fdb_export(client: Client) -> None:
    _register_services(client)

    lines = demo_loop.schedule(client, extras={"arima", "fdb"}, now=NOW)

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
    again = demo_loop.schedule(client, extras={"arima", "fdb"}, now=NOW + timedelta(days=1))

    assert again == [f"{name} kept as it is" for name in schedules]
    assert client.services.list_schedules("weather")[0].interval_seconds == 3600


def test_without_the_fdb_extra_the_export_is_not_scheduled_and_says_why(client: Client) -> None:
    _register_services(client)

    lines = demo_loop.schedule(client, extras={"arima"}, now=NOW)

    assert lines[-1] == (
        "fdb_export not scheduled: the fdb extra is not installed "
        "(pip install 'dtbase[fdb]', then restart)"
    )
    assert [s.name for s in client.services.list_schedules()] == ["demo-weather", "demo-arima"]


def test_in_a_base_install_only_the_weather_is_scheduled(client: Client) -> None:
    _register_services(client)

    lines = demo_loop.schedule(client, extras=set(), now=NOW)

    assert lines == [
        "weather every 10 min (at once)",
        "arima not scheduled: the arima extra is not installed "
        "(pip install 'dtbase[arima]', then restart)",
        "fdb_export not scheduled: the fdb extra is not installed "
        "(pip install 'dtbase[fdb]', then restart)",
    ]
    assert [s.name for s in client.services.list_schedules()] == ["demo-weather"]


def test_the_extras_installed_here_are_found() -> None:
    # The test environment installs every extra (`make test`).
    assert demo_loop.installed_extras() == {"arima", "fdb"}
