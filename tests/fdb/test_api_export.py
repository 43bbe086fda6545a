"""The FDB bridge with dtbase's API: runs inserted through a live backend, exported to a
real FDB with the registry in the database, listed and read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dtbase.client import Client
from dtbase.client.fdb import Fdb
from dtbase.devdb import free_port
from dtbase.fdb import (
    FdbStore,
    Location,
    MeasureSeries,
    ModelRun,
    RunNotFound,
    SensorLink,
    export_run,
    open_sink,
    read_back,
    read_run,
)
from dtbase.fdb.api_export import export_window
from dtbase.fdb.api_registry import ApiCodeRegistry
from dtbase.fdb.bridge import list_runs
from dtbase.fdb.commands import fdb_app
from dtbase.fdb.errors import InvalidRun
from dtbase.fdb.from_api import measures_by_name, to_model_run
from dtbase.fdb.registry import Codes
from dtbase.schemas.locations import LocationIdentifier
from dtbase.schemas.models import MeasureValues, SensorMeasureIdentifier
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import ValueDatatype
from tests.utils.settings import DEFAULT_PASSWORD

RUN_TIME = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
FROM, TO = RUN_TIME - timedelta(hours=1), RUN_TIME + timedelta(hours=1)
TIMES = [RUN_TIME + timedelta(minutes=15 * i) for i in range(8)]
TEMPERATURES = [280.125 + i * 0.1 + 1e-12 for i in range(8)]
MOISTURE = [0.1 * i for i in range(8)]


def _insert_run(
    client: Client,
    *,
    model: str = "arima",
    scenario: str = "baseline",
    sensor: str | None = None,
    run_time: datetime = RUN_TIME,
) -> None:
    if model not in {m.name for m in client.models.list_models()}:
        client.models.insert_model(model)
    known = {(m.name, m.units) for m in client.models.list_model_measures()}
    for name, units in (("temperature", "K"), ("soil moisture", "m3 m-3")):
        if (name, units) not in known:
            client.models.insert_model_measure(name, units, ValueDatatype.float)
    client.models.insert_model_run(
        model,
        scenario,
        [
            MeasureValues(measure_name="temperature", values=TEMPERATURES, timestamps=TIMES),
            MeasureValues(measure_name="soil moisture", values=MOISTURE, timestamps=TIMES),
        ],
        time_created=run_time,
        create_scenario=True,
        sensor_unique_id=sensor,
    )


@pytest.fixture
def store(tmp_path: Path) -> FdbStore:
    return FdbStore(data_dir=tmp_path / "data")


def test_export_list_read_back_identical(client: Client, store: FdbStore) -> None:
    _insert_run(client)
    registry = ApiCodeRegistry(client)

    summary = export_window(client, store, dt_from=FROM, dt_to=TO)

    assert summary.ok
    assert [(o.model, o.scenario, o.messages) for o in summary.exported] == [
        ("arima", "baseline", 16)
    ]
    listed = list_runs(store, registry)
    assert [(r.model, r.scenario, r.run_time, r.fields) for r in listed] == [
        ("arima", "baseline", RUN_TIME, 16)
    ]
    run = read_run(store, registry, model="arima", scenario="baseline", run_time=RUN_TIME)
    assert [(m.name, m.units) for m in run.measures] == [
        ("soil moisture", "m3 m-3"),
        ("temperature", "K"),
    ]
    assert run.measures[0].points == tuple(zip(TIMES, MOISTURE, strict=True))
    assert run.measures[1].points == tuple(zip(TIMES, TEMPERATURES, strict=True))
    assert run.location is None
    # The registry lives in the database, visible through the API.
    assert [m.param for m in Fdb(client).list_codes().measures] == [80, 167]


def test_reexport_changes_nothing(client: Client, store: FdbStore) -> None:
    _insert_run(client)
    export_window(client, store, dt_from=FROM, dt_to=TO)
    registry = ApiCodeRegistry(client)
    codes = registry.codes()
    listing = store.list({"class": "rd", "expver": "d001"})

    again = export_window(client, store, dt_from=FROM, dt_to=TO)

    assert again.exported == []
    assert [(o.model, o.reason) for o in again.skipped] == [
        ("arima", "the FDB holds it already, with the same values")
    ]
    assert store.list({"class": "rd", "expver": "d001"}) == listing
    assert registry.codes() == codes


def test_a_run_with_a_sensor_location_carries_its_coordinates(
    client: Client, store: FdbStore
) -> None:
    kelvin = SensorMeasure(name="temperature", units="K", datatype=ValueDatatype.float)
    client.sensors.insert_sensor_type("Weather", [kelvin])
    client.sensors.insert_sensor("Weather", "S1")
    identifiers = [
        LocationIdentifier(name="latitude", units="deg", datatype=ValueDatatype.float),
        LocationIdentifier(name="longitude", units="deg", datatype=ValueDatatype.float),
    ]
    client.locations.insert_location_schema("site", None, identifiers)
    client.locations.insert_location_for_schema("site", {"latitude": 1.0, "longitude": 2.0})
    client.locations.insert_location_for_schema("site", {"latitude": 51.5072, "longitude": -0.1276})
    client.sensors.insert_sensor_location(
        "S1", "site", {"latitude": 1.0, "longitude": 2.0}, RUN_TIME - timedelta(days=9)
    )
    client.sensors.insert_sensor_location(
        "S1", "site", {"latitude": 51.5072, "longitude": -0.1276}, RUN_TIME - timedelta(days=1)
    )
    _insert_run(client, sensor="S1")

    assert export_window(client, store, dt_from=FROM, dt_to=TO).ok

    run = read_run(
        store,
        ApiCodeRegistry(client),
        model="arima",
        scenario="baseline",
        run_time=RUN_TIME,
        sensor=SensorLink("S1"),
    )
    assert run.location == Location(51.5072, -0.1276)


def test_a_run_that_cannot_be_encoded_fails_with_one_reason_and_writes_nothing(
    client: Client, store: FdbStore
) -> None:
    client.models.insert_model("classifier")
    for name in ("label", "cloud", "wind"):
        client.models.insert_model_measure(name, "", ValueDatatype.string)
    client.models.insert_model_run(
        "classifier",
        "baseline",
        [
            MeasureValues(measure_name=name, values=["sunny", "rain"], timestamps=TIMES[:2])
            for name in ("label", "cloud", "wind")
        ],
        time_created=RUN_TIME,
        create_scenario=True,
    )

    summary = export_window(client, store, dt_from=FROM, dt_to=TO)

    assert not summary.ok
    assert summary.exported == summary.skipped == []
    assert [o.reason for o in summary.failed] == [
        "measure 'cloud' [] holds string values; only float measures can be exported to FDB "
        "(and 2 more problems)"
    ]
    assert summary.to_dict()["ok"] is False
    assert list_runs(store, ApiCodeRegistry(client)) == []
    assert Fdb(client).list_codes().models == []


def test_unknown_models_and_runs_give_clear_errors(client: Client, store: FdbStore) -> None:
    with pytest.raises(InvalidRun, match="no such model: 'nope'"):
        export_window(client, store, models=["nope"], dt_from=FROM, dt_to=TO)
    _insert_run(client)
    export_window(client, store, dt_from=FROM, dt_to=TO)
    with pytest.raises(RunNotFound, match="holds no field"):
        read_run(
            store,
            ApiCodeRegistry(client),
            model="arima",
            scenario="baseline",
            run_time=RUN_TIME + timedelta(hours=1),
        )
    assert len(list_runs(store, ApiCodeRegistry(client))) == 1


def test_cli_export_list_read(
    client: Client, live_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DT_BACKEND_URL", live_backend)
    monkeypatch.setenv("DT_DEFAULT_USER_PASS", DEFAULT_PASSWORD)
    monkeypatch.setenv("DT_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.delenv("DT_FDB_CONFIG", raising=False)
    _insert_run(client)
    runner = CliRunner()
    window = ["--from", FROM.isoformat(), "--to", TO.isoformat()]

    exported = runner.invoke(fdb_app, ["export", *window])
    assert exported.exit_code == 0, exported.output
    assert "1 exported (16 fields), 0 skipped, 0 failed" in exported.output
    again = runner.invoke(fdb_app, ["export", *window])
    assert "0 exported (0 fields), 1 skipped" in again.output

    listed = runner.invoke(fdb_app, ["list"])
    assert listed.exit_code == 0, listed.output
    assert "arima (expver d001)  scenario baseline  sensor -  16 fields" in listed.output

    read = runner.invoke(
        fdb_app,
        ["read", "--model", "arima", "--scenario", "baseline", "--run-time", "2024-05-01T06:00Z"],
    )
    assert read.exit_code == 0, read.output
    assert f"{TIMES[1].isoformat()}  {TEMPERATURES[1]!r}" in read.output

    missing = runner.invoke(
        fdb_app, ["read", "--model", "arima", "--run-time", "2024-05-02T06:00Z"]
    )
    assert missing.exit_code == 1
    unknown = runner.invoke(fdb_app, ["export", *window, "--model", "nope"])
    assert unknown.exit_code == 1
    assert "no such model: 'nope'" in unknown.output

    _sensor(client, "LOOP1")
    early = RUN_TIME - timedelta(hours=3)
    _forecast(client, sensor="LOOP1", created=RUN_TIME, start=early, values=[281.0, 282.5])
    assert runner.invoke(fdb_app, ["export", *window]).exit_code == 0
    link = ["--sensor", "LOOP1", "--sensor-measure", "temperature", "--sensor-units", "K"]
    by_sensor = runner.invoke(
        fdb_app, ["read", "--model", "arima", "--scenario", "default", "--run-time", "03:00"]
    )
    assert by_sensor.exit_code == 1  # not an ISO time
    by_sensor = runner.invoke(
        fdb_app,
        [
            "read",
            "--model",
            "arima",
            "--scenario",
            "default",
            "--run-time",
            early.isoformat(),
            *link,
        ],
    )
    assert by_sensor.exit_code == 0, by_sensor.output
    assert "created 2024-05-01T06:00:00+00:00 for LOOP1 / temperature [K]" in by_sensor.output
    assert f"{early.isoformat()}  281.0" in by_sensor.output
    listed = runner.invoke(fdb_app, ["list", "--model", "arima"])
    assert "sensor LOOP1 / temperature [K] (channel 1)  2 fields" in listed.output

    _clash(client, store=FdbStore(data_dir=tmp_path / "cli-data"), model="clashing")
    failed = runner.invoke(fdb_app, ["export", *window])
    assert failed.exit_code == 1, failed.output
    assert "0 exported (0 fields), 2 skipped, 1 failed" in failed.output
    assert "FAILED    run" in failed.output
    assert "not overwritten" in failed.output


def _sensor(client: Client, unique_id: str) -> None:
    kelvin = SensorMeasure(name="temperature", units="K", datatype=ValueDatatype.float)
    if "Weather" not in {t.name for t in client.sensors.list_sensor_types()}:
        client.sensors.insert_sensor_type("Weather", [kelvin])
    client.sensors.insert_sensor("Weather", unique_id)


def _forecast(
    client: Client, *, sensor: str, created: datetime, start: datetime, values: list[float]
) -> None:
    """An ARIMA-like run: one sensor, its temperature, values every half hour from `start`."""
    if "arima" not in {m.name for m in client.models.list_models()}:
        client.models.insert_model("arima")
    if "Mean temperature" not in {m.name for m in client.models.list_model_measures()}:
        client.models.insert_model_measure("Mean temperature", "K", ValueDatatype.float)
    times = [start + timedelta(minutes=30 * i) for i in range(len(values))]
    client.models.insert_model_run(
        "arima",
        "default",
        [MeasureValues(measure_name="Mean temperature", values=values, timestamps=times)],
        time_created=created,
        create_scenario=True,
        sensor_unique_id=sensor,
        sensor_measure=SensorMeasureIdentifier(name="temperature", units="K"),
    )


def _read_back_every_run(client: Client, store: FdbStore) -> None:
    """Each run of the API, read back from the FDB by its own keys, equals the API's."""
    registry = ApiCodeRegistry(client)
    measures = measures_by_name(client)
    for model in client.models.list_models():
        for api_run in client.models.list_model_runs(model.name):
            run = to_model_run(client, api_run, measures=measures)
            back = read_back(store, registry, run)
            assert back.measures == run.sorted().measures, api_run
            assert back.sensor == run.sensor
            assert back.run_time == run.run_time.replace(second=0, microsecond=0)


def test_cli_without_a_backend_or_the_password_says_so(
    live_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DT_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.delenv("DT_FDB_CONFIG", raising=False)
    runner = CliRunner()
    nowhere = f"http://127.0.0.1:{free_port()}"

    unreachable = runner.invoke(fdb_app, ["export", "--backend-url", nowhere, "--password", "x"])
    assert unreachable.exit_code == 1
    assert "Cannot reach the backend" in unreachable.output
    wrong = runner.invoke(fdb_app, ["list", "--backend-url", live_backend, "--password", "nope"])
    assert wrong.exit_code == 1
    assert "Cannot log in" in wrong.output


def test_runs_of_two_sensors_in_one_minute_export_separately(
    client: Client, store: FdbStore
) -> None:
    """The issue's first case: one ARIMA call for LOOP1 and LOOP2 (creation times within
    the same minute), exported both, each read back as itself."""
    for sensor in ("LOOP1", "LOOP2"):
        _sensor(client, sensor)
    start = RUN_TIME + timedelta(minutes=30)
    _forecast(client, sensor="LOOP1", created=RUN_TIME, start=start, values=[281.0, 281.5])
    _forecast(
        client,
        sensor="LOOP2",
        created=RUN_TIME + timedelta(seconds=20),
        start=start,
        values=[275.0, 274.5],
    )

    summary = export_window(client, store, dt_from=FROM, dt_to=TO)

    assert summary.ok, summary.to_dict()
    assert [(o.messages, o.reason) for o in summary.exported] == [(2, None), (2, None)]
    _read_back_every_run(client, store)
    listed = list_runs(store, ApiCodeRegistry(client))
    assert [r.sensor for r in listed] == [
        SensorLink("LOOP1", "temperature", "K"),
        SensorLink("LOOP2", "temperature", "K"),
    ]
    again = export_window(client, store, dt_from=FROM, dt_to=TO)
    assert (len(again.exported), len(again.skipped), again.ok) == (0, 2, True)


class _CountingRegistry(ApiCodeRegistry):
    reads = 0

    def codes(self) -> Codes:
        self.reads += 1
        return super().codes()


def test_an_export_reads_the_registry_once_per_new_codes(client: Client, store: FdbStore) -> None:
    """Two runs with new sensor links read the registry for each (their codes are new);
    exporting them again reads it once, and both runs are still judged the same."""
    for sensor in ("LOOP1", "LOOP2"):
        _sensor(client, sensor)
    start = RUN_TIME + timedelta(minutes=30)
    _forecast(client, sensor="LOOP1", created=RUN_TIME, start=start, values=[281.0, 281.5])
    _forecast(client, sensor="LOOP2", created=RUN_TIME, start=start, values=[275.0, 274.5])
    first = _CountingRegistry(client)

    assert export_window(client, store, dt_from=FROM, dt_to=TO, registry=first).ok
    assert first.reads == 2

    again = _CountingRegistry(client)
    summary = export_window(client, store, dt_from=FROM, dt_to=TO, registry=again)
    assert (len(summary.exported), len(summary.skipped), summary.ok) == (0, 2, True)
    assert again.reads == 1
    _read_back_every_run(client, store)


def test_a_forecast_from_a_reading_three_hours_old_exports(client: Client, store: FdbStore) -> None:
    """The issue's second case: values start hours before the run's creation time."""
    _sensor(client, "LOOP1")
    start = RUN_TIME - timedelta(hours=2, minutes=30)
    _forecast(client, sensor="LOOP1", created=RUN_TIME, start=start, values=[280.0, 280.25, 281.0])

    summary = export_window(client, store, dt_from=FROM, dt_to=TO)

    assert summary.ok, summary.to_dict()
    assert [o.messages for o in summary.exported] == [3]
    [listed] = list_runs(store, ApiCodeRegistry(client))
    assert listed.run_time == start  # the reference time: the first value's
    _read_back_every_run(client, store)


STALE = [280.0, 280.25, 281.0, 281.5]
LATER = RUN_TIME + timedelta(hours=1, seconds=12)
LOOP1 = SensorLink("LOOP1", "temperature", "K")


def _stale_forecast(client: Client, *, created: datetime, values: list[float]) -> None:
    """A scheduled ARIMA run on LOOP1, which stopped reporting: its forecast starts at the
    last reading, three hours before 06:00, whenever the run is created."""
    start = RUN_TIME - timedelta(hours=3)
    _forecast(client, sensor="LOOP1", created=created, start=start, values=values)


def _read_loop1(store: FdbStore, registry: ApiCodeRegistry) -> ModelRun:
    [listed] = list_runs(store, registry)
    return read_run(
        store, registry, model="arima", scenario="default", run_time=listed.run_time, sensor=LOOP1
    )


def test_an_hourly_forecast_of_a_stale_sensor_is_skipped_and_the_first_kept(
    client: Client, store: FdbStore
) -> None:
    """Same sensor link, model, scenario and first value, same values, created an hour
    apart: one set of keys, the same data, so the later run is skipped, and the reason says
    whose creation time the FDB keeps."""
    registry = ApiCodeRegistry(client)
    _sensor(client, "LOOP1")
    _stale_forecast(client, created=RUN_TIME, values=STALE)
    assert export_window(client, store, dt_from=FROM, dt_to=TO).ok
    listing = store.list({"class": "rd"})
    _stale_forecast(client, created=LATER, values=list(STALE))

    summary = export_window(client, store, dt_from=FROM, dt_to=LATER)

    assert summary.ok, summary.to_dict()
    assert summary.exported == summary.failed == []
    assert [(o.run_time, o.reason) for o in summary.skipped] == [
        (RUN_TIME, "the FDB holds it already, with the same values"),
        (
            LATER,
            "the FDB holds it already, with the same values: identical values from a run "
            "created at 2024-05-01T06:00:00+00:00, kept as they are",
        ),
    ]
    assert store.list({"class": "rd"}) == listing
    back = _read_loop1(store, registry)
    assert (back.run_time, [v for _, v in back.measures[0].points]) == (RUN_TIME, STALE)


def test_an_hourly_forecast_with_one_other_value_fails_and_changes_nothing(
    client: Client, store: FdbStore
) -> None:
    registry = ApiCodeRegistry(client)
    _sensor(client, "LOOP1")
    _stale_forecast(client, created=RUN_TIME, values=STALE)
    assert export_window(client, store, dt_from=FROM, dt_to=TO).ok
    listing = store.list({"class": "rd"})
    _stale_forecast(client, created=LATER, values=[*STALE[:2], STALE[2] + 0.5, STALE[3]])

    summary = export_window(client, store, dt_from=FROM, dt_to=LATER)

    assert not summary.ok
    assert [o.run_time for o in summary.skipped] == [RUN_TIME]
    assert [(o.run_time, o.reason) for o in summary.failed] == [
        (
            LATER,
            "the FDB holds something else under this run's keys: 1 of its 4 fields hold "
            "other values (e.g. param 80 at 2024-05-01T04:00:00+00:00: held 281.0, run 281.5)"
            "; not overwritten",
        )
    ]
    assert store.list({"class": "rd"}) == listing
    back = _read_loop1(store, registry)
    assert (back.run_time, [v for _, v in back.measures[0].points]) == (RUN_TIME, STALE)


def _clash(client: Client, *, store: FdbStore, model: str = "arima") -> None:
    """A run in the API, and other values under its keys in the FDB (written first)."""
    _insert_run(client, model=model)
    [api_run] = client.models.list_model_runs(model, dt_from=FROM, dt_to=TO)
    run = to_model_run(client, api_run)
    other = ModelRun(
        run.model,
        run.scenario,
        run.run_time,
        [
            MeasureSeries(m.name, m.units, [(t, -v - 1.0) for t, v in m.points])
            for m in run.measures
        ],
        run.location,
        run.sensor,
    )
    export_run(other, registry=ApiCodeRegistry(client), sink=open_sink(store))


def test_a_run_the_fdb_holds_with_other_values_fails_and_is_not_overwritten(
    client: Client, store: FdbStore
) -> None:
    _clash(client, store=store)
    listing = store.list({"class": "rd"})
    registry = ApiCodeRegistry(client)

    summary = export_window(client, store, dt_from=FROM, dt_to=TO)

    assert not summary.ok
    assert summary.exported == summary.skipped == []
    [failed] = summary.failed
    assert failed.reason is not None
    assert failed.reason.startswith(
        "the FDB holds something else under this run's keys: 16 of its 16 fields hold other "
        "values (e.g. param 80 at 2024-05-01T06:00:00+00:00: held -1.0, run 0.0); "
    )
    assert failed.reason.endswith("not overwritten")
    assert store.list({"class": "rd"}) == listing
    back = read_run(store, registry, model="arima", scenario="baseline", run_time=RUN_TIME)
    assert back.measures[1].points[0][1] == -TEMPERATURES[0] - 1.0  # still the other values
