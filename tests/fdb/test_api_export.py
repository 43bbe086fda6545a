"""The FDB bridge with dtbase's API: runs inserted through a live backend, exported to a
real FDB with the registry in the database, listed and read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dtbase.client import Client
from dtbase.client.fdb import Fdb
from dtbase.fdb import FdbStore, Location, RunNotFound, read_run
from dtbase.fdb.api_export import export_window
from dtbase.fdb.api_registry import ApiCodeRegistry
from dtbase.fdb.bridge import list_runs
from dtbase.fdb.commands import fdb_app
from dtbase.fdb.errors import InvalidRun
from dtbase.schemas.locations import LocationIdentifier
from dtbase.schemas.models import MeasureValues
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import ValueDatatype
from tests.conftest import DEFAULT_PASSWORD

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
    assert [(o.model, o.reason) for o in again.skipped] == [("arima", "the FDB holds it already")]
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
        store, ApiCodeRegistry(client), model="arima", scenario="baseline", run_time=RUN_TIME
    )
    assert run.location == Location(51.5072, -0.1276)


def test_non_float_measures_are_skipped_and_nothing_is_written(
    client: Client, store: FdbStore
) -> None:
    client.models.insert_model("classifier")
    client.models.insert_model_measure("label", "", ValueDatatype.string)
    client.models.insert_model_run(
        "classifier",
        "baseline",
        [MeasureValues(measure_name="label", values=["sunny", "rain"], timestamps=TIMES[:2])],
        time_created=RUN_TIME,
        create_scenario=True,
    )

    summary = export_window(client, store, dt_from=FROM, dt_to=TO)

    assert summary.ok
    assert summary.exported == []
    assert [o.reason for o in summary.skipped] == [
        "measure 'label' [] holds string values; only float measures can be exported to FDB"
    ]
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
    assert "arima (expver d001)  scenario baseline  16 fields" in listed.output

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
