"""The backend rolls up new readings in the background, so reads find them clean."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from dtbase.backend.app import create_app
from dtbase.backend.sensors.refresher import PASS_LOCK_KEY, RollupRefresher
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


def test_a_refresher_skips_its_turn_while_another_pass_is_under_way(
    admin: httpx.Client, engine: Engine
) -> None:
    """Worker processes and replicas each run a refresher: one pass at a time does the
    work, the others skip their turn instead of queueing behind it series by series."""
    add_sensors(admin, "Station", [{"name": "t", "units": "K", "datatype": "float"}], ["R1"])
    readings = {
        "unique_identifier": "R1",
        "measure_name": "t",
        "readings": [1.0, 2.0],
        "timestamps": [T0.isoformat(), (T0 + timedelta(minutes=1)).isoformat()],
    }
    assert admin.post("/sensor/insert-sensor-readings", json=readings).status_code == 201
    refresher = RollupRefresher(engine, interval_seconds=60)

    with engine.connect() as other_pass:
        other_pass.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PASS_LOCK_KEY})
        assert refresher.run_once() is None
        assert _counts(engine) == (0, 1)
        other_pass.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PASS_LOCK_KEY})
        other_pass.commit()

    assert refresher.run_once() == 1
    assert _counts(engine)[1] == 0
    # The pass let go of its lock: the next one runs (with nothing left to do).
    assert refresher.run_once() == 0
