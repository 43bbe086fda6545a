"""Readings at the ends of the double range (issue 15, item 6): stored and read back
exactly, and downsampled (raw and through rollups) without overflowing, so one sensor's
extreme values cannot break its reads or the rollup refresher."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from dtbase.backend.sensors.refresher import RollupRefresher
from tests.utils.sensors import add_sensors, iso

BIGGEST = sys.float_info.max
T0 = datetime(2024, 3, 1, tzinfo=UTC)
MEASURES = [{"name": "level", "units": "m", "datatype": "float"}]
# Extremes of both signs, mixed with ordinary values, over two days: every rollup width.
VALUES = [1e308, 1e308, -1e308, BIGGEST, BIGGEST, BIGGEST, -BIGGEST, 1.5, 2.25, 1e308] * 12
STAMPS = [T0 + timedelta(minutes=23 * index) for index in range(len(VALUES))]


@pytest.fixture
def extreme(admin: httpx.Client) -> httpx.Client:
    add_sensors(admin, "Gauge", MEASURES, ["G"])
    body = {
        "unique_identifier": "G",
        "measure_name": "level",
        "readings": VALUES,
        "timestamps": [iso(stamp) for stamp in STAMPS],
    }
    response = admin.post("/sensor/insert-sensor-readings", json=body)
    assert response.status_code == 201, response.text
    return admin


def _read(client: httpx.Client, **extra: Any) -> list[dict[str, Any]]:
    body = {
        "unique_identifier": "G",
        "measure_name": "level",
        "dt_from": "2024-01-01",
        "dt_to": "2024-12-31",
        **extra,
    }
    response = client.post("/sensor/sensor-readings", json=body)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def _exact_means(width: timedelta) -> dict[str, float]:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    buckets: dict[datetime, list[float]] = {}
    for stamp, value in zip(STAMPS, VALUES, strict=True):
        buckets.setdefault(epoch + width * ((stamp - epoch) // width), []).append(value)
    return {
        iso(start): float(sum(map(Fraction, values)) / len(values))
        for start, values in buckets.items()
    }


def test_extreme_values_read_back_exactly(extreme: httpx.Client) -> None:
    assert [item["value"] for item in _read(extreme)] == VALUES


@pytest.mark.parametrize("seconds", [60, 3600, 6 * 3600, 86400])
def test_extreme_values_downsample(extreme: httpx.Client, seconds: int) -> None:
    expected = _exact_means(timedelta(seconds=seconds))
    for _ in range(2):  # Once refreshing the rollups on the way, once reading them.
        got = _read(extreme, bucket_seconds=seconds)
        assert {item["timestamp"]: item["value"] for item in got} == pytest.approx(
            expected, rel=1e-12
        )
        assert all(-BIGGEST <= item["min"] <= item["max"] <= BIGGEST for item in got)


def test_the_mean_of_the_biggest_double_is_itself(admin: httpx.Client) -> None:
    add_sensors(admin, "Gauge", MEASURES, ["G"])
    body = {
        "unique_identifier": "G",
        "measure_name": "level",
        "readings": [BIGGEST] * 50,
        "timestamps": [iso(T0 + timedelta(seconds=index)) for index in range(50)],
    }
    assert admin.post("/sensor/insert-sensor-readings", json=body).status_code == 201
    got = _read(admin, bucket_seconds=86400)
    assert [(item["value"], item["min"], item["max"]) for item in got] == [(BIGGEST,) * 3]


def test_the_refresher_rolls_up_extreme_values(extreme: httpx.Client, engine: Engine) -> None:
    assert (RollupRefresher(engine, interval_seconds=60).run_once() or 0) > 0
    with engine.connect() as connection:
        dirty = connection.scalar(text("SELECT count(*) FROM sensor_reading_dirty"))
    assert dirty == 0
    daily = _read(extreme, bucket_seconds=86400)
    assert {item["timestamp"]: item["value"] for item in daily} == pytest.approx(
        _exact_means(timedelta(days=1)), rel=1e-12
    )
