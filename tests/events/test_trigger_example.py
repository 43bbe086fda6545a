"""The worked example of docs/events.md, with the real services: new readings run the
ARIMA forecast once per sensor, and its new model runs run the FDB export, into a real
local FDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from dtbase.client import Client
from dtbase.core.settings import BackendSettings
from dtbase.fdb import FdbStore
from dtbase.fdb.api_registry import ApiCodeRegistry
from dtbase.fdb.bridge import list_runs
from services.host import create_app as services_host
from services.host import register
from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD
from tests.utils.triggers import add_thermometers, finished_runs, trigger_backend

SENSORS = ["T1", "T2"]
FORECAST = {"measures": ["temperature"], "training_days": 7, "horizon_hours": 6, "seasons": []}


@pytest.fixture
def services(
    client: Client,
    live_backend: str,
    settings: BackendSettings,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Client]:
    """The services host (all the real services) registered with the backend; the FDB a
    local one under the test's own data directory; a backend that runs triggers."""
    monkeypatch.setenv("DT_BACKEND_URL", live_backend)
    monkeypatch.setenv("DT_DEFAULT_USER_PASS", DEFAULT_PASSWORD)
    monkeypatch.setenv("DT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DT_FDB_CONFIG", raising=False)
    add_thermometers(client, SENSORS)
    with served(services_host()) as host, trigger_backend(settings, database_url):
        register(client, host, ["arima", "fdb_export"])
        yield client


def _week_of_hours(seed: int) -> tuple[list[float], list[datetime]]:
    hours = 24 * 8
    last = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rng = np.random.default_rng(seed)
    values = [float(18 + 4 * np.sin(i / 24 * 2 * np.pi) + rng.normal(0, 0.3)) for i in range(hours)]
    return values, [last - timedelta(hours=hours - 1 - i) for i in range(hours)]


def test_new_readings_forecast_then_export_to_the_fdb(services: Client, tmp_path: Path) -> None:
    services.triggers.create_trigger(
        "forecast-temperature",
        "arima",
        {"kind": "readings.stored", "sensor_type": "thermometer", "measure": "temperature"},
        parameters={"sensors": "{sensor}", **FORECAST},
        debounce_seconds=1,
    )
    services.triggers.create_trigger(
        "export-forecasts",
        "fdb_export",
        {"kind": "model_run.stored", "model": "Arima"},
        parameters={"models": "{model}", "dt_from": "-1h"},
        debounce_seconds=2,
    )

    for seed, sensor in enumerate(SENSORS):
        values, times = _week_of_hours(seed)
        services.sensors.insert_sensor_readings("temperature", sensor, values, times)

    forecasts = finished_runs(services, "arima", len(SENSORS))
    exports = finished_runs(services, "fdb_export", 1)
    store = FdbStore(data_dir=tmp_path / "data")
    in_fdb = list_runs(store, ApiCodeRegistry(services))
    while len(in_fdb) < len(SENSORS):  # the two forecasts came in two bursts
        exports = finished_runs(services, "fdb_export", len(exports) + 1)
        in_fdb = list_runs(store, ApiCodeRegistry(services))

    # One forecast per sensor, each for its own sensor.
    assert sorted(run.parameters["sensors"] for run in forecasts) == SENSORS
    assert {run.trigger_name for run in forecasts} == {"forecast-temperature"}
    assert all(run.status == "succeeded" for run in forecasts), [r.response_json for r in forecasts]
    assert {run.trigger_name for run in exports} == {"export-forecasts"}
    assert all(run.status == "succeeded" for run in exports), [r.response_json for r in exports]
    assert exports[0].parameters == {"models": "Arima", "dt_from": "-1h"}
    assert [run.model for run in in_fdb] == ["Arima"] * len(SENSORS)
