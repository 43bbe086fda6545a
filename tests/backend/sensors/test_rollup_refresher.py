"""The backend rolls up new readings in the background, so reads find them clean."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from dtbase.backend.app import create_app
from dtbase.core.settings import BackendSettings
from tests.utils.sensors import add_sensors

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        rolled = connection.scalar(text("SELECT count(*) FROM sensor_reading_rollup"))
        dirty = connection.scalar(text("SELECT count(*) FROM sensor_reading_dirty"))
    return int(rolled or 0), int(dirty or 0)


def test_new_readings_are_rolled_up_without_a_read(
    admin: httpx.Client, engine: Engine, settings: BackendSettings, database_url: str
) -> None:
    measures = [{"name": "temperature", "units": "K", "datatype": "float"}]
    add_sensors(admin, "Station", measures, ["R1"])
    stamps = [T0 + timedelta(minutes=7 * i) for i in range(500)]
    readings = {
        "unique_identifier": "R1",
        "measure_name": "temperature",
        "readings": [280.0 + i % 13 for i in range(len(stamps))],
        "timestamps": [stamp.isoformat() for stamp in stamps],
    }
    assert admin.post("/sensor/insert-sensor-readings", json=readings).status_code == 201
    rolled, dirty = _counts(engine)
    assert (rolled, dirty > 0) == (0, True)  # the tests' live backend does not refresh

    refreshing = settings.model_copy(update={"rollup_refresh_seconds": 0.05})
    with TestClient(create_app(refreshing, database_url=database_url)):
        deadline = time.monotonic() + 30
        while _counts(engine)[1] and time.monotonic() < deadline:
            time.sleep(0.05)
    rolled, dirty = _counts(engine)
    assert dirty == 0
    # 500 readings 7 minutes apart: one 1-minute rollup each, and coarser ones above them.
    assert rolled > 500
