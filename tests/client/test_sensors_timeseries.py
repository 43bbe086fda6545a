"""The client's time series calls: overwrite, bulk insert, downsampled reads, export."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from dtbase.client import Client
from dtbase.client.errors import ApiError
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.auth import TokenPair
from dtbase.schemas.sensors import ExportFormat, SensorMeasure, SeriesReadings
from dtbase.schemas.values import ValueDatatype
from tests.utils.settings import JWT_SECRET

T0 = datetime(2024, 1, 1, tzinfo=UTC)
STAMPS = [T0 + timedelta(seconds=30 * index) for index in range(6)]


@pytest.fixture
def sensors(client: Client) -> Client:
    measure = SensorMeasure(name="temperature", units="K", datatype=ValueDatatype.float)
    client.sensors.insert_sensor_type("Station", [measure])
    for uid in ("S1", "S2"):
        client.sensors.insert_sensor("Station", uid)
    return client


def test_bulk_insert_then_downsample(sensors: Client) -> None:
    values = [1.0, 3.0, 2.0, 8.0, 4.0, 6.0]
    series = [
        SeriesReadings(
            unique_identifier=uid, measure_name="temperature", readings=values, timestamps=STAMPS
        )
        for uid in ("S1", "S2")
    ]
    assert sensors.sensors.insert_readings_bulk(series).detail == "Sensor readings inserted"
    buckets = sensors.sensors.sensor_readings_downsampled(
        "temperature", "S2", T0, T0 + timedelta(hours=1), bucket_seconds=60, aggregate="last"
    )
    assert [(b.timestamp, b.value, b.min, b.max, b.count) for b in buckets] == [
        (T0, 3.0, 1.0, 3.0, 2),
        (T0 + timedelta(minutes=1), 8.0, 2.0, 8.0, 2),
        (T0 + timedelta(minutes=2), 6.0, 4.0, 6.0, 2),
    ]
    assert (
        len(
            sensors.sensors.sensor_readings_downsampled(
                "temperature", "S1", T0, T0 + timedelta(hours=1), max_points=2
            )
        )
        <= 2
    )


def test_downsampling_without_a_size_says_what_is_missing(sensors: Client) -> None:
    sensors.sensors.insert_sensor_readings("temperature", "S1", [1.0, 2.0], STAMPS[:2])
    with pytest.raises(TypeError, match="needs max_points or bucket_seconds"):
        sensors.sensors.sensor_readings_downsampled("temperature", "S1", T0, STAMPS[-1])


def test_overwrite(sensors: Client) -> None:
    sensors.sensors.insert_sensor_readings("temperature", "S1", [1.0], [T0])
    sensors.sensors.insert_sensor_readings("temperature", "S1", [2.0], [T0])
    assert sensors.sensors.sensor_readings("temperature", "S1", T0, T0)[0].value == 1.0
    sensors.sensors.insert_sensor_readings("temperature", "S1", [2.0], [T0], overwrite=True)
    assert sensors.sensors.sensor_readings("temperature", "S1", T0, T0)[0].value == 2.0


def test_export_csv_round_trip(sensors: Client) -> None:
    values = [0.1, -2.5, 1e300, 3.0, 7.25, 1 / 3]
    sensors.sensors.insert_sensor_readings("temperature", "S1", values, STAMPS)
    exported = sensors.sensors.export_sensor_readings("temperature", "S1", T0, STAMPS[-1])
    rows = list(csv.DictReader(io.StringIO(exported.decode())))
    assert [(datetime.fromisoformat(r["timestamp"]), float(r["value"])) for r in rows] == list(
        zip(STAMPS, values, strict=True)
    )
    ndjson = sensors.sensors.export_sensor_readings(
        "temperature", "S1", T0, STAMPS[-1], format=ExportFormat.ndjson
    )
    assert len(ndjson.splitlines()) == 6


def test_export_errors_are_api_errors(sensors: Client) -> None:
    with pytest.raises(ApiError) as caught:
        sensors.sensors.export_sensor_readings("nope", "S1", T0, T0)
    assert caught.value.status_code == 400


def _expire_access_token(client: Client) -> None:
    assert client.tokens is not None
    claims = {"sub": DEFAULT_USER_EMAIL, "token_type": "access", "exp": int(time.time()) - 5}
    expired = jwt.encode(claims, JWT_SECRET, "HS256")
    client.tokens = TokenPair(access_token=expired, refresh_token=client.tokens.refresh_token)


def test_csv_upload_refreshes_an_expired_access_token(sensors: Client) -> None:
    _expire_access_token(sensors)

    stored = sensors.sensors.insert_readings_csv(
        "timestamp,value\n2024-01-01T00:00:00Z,4.5\n",
        unique_identifier="S1",
        measure_name="temperature",
    )

    assert stored.detail == "Sensor readings inserted"
    assert sensors.sensors.sensor_readings("temperature", "S1", T0, T0)[0].value == 4.5


def test_a_file_upload_is_sent_whole_again_after_a_refresh(sensors: Client) -> None:
    """The first try read the file object to its end: the retry (httpx) starts it over."""
    _expire_access_token(sensors)
    content = "".join(f"{(T0 + timedelta(seconds=n)).isoformat()},{n}\n" for n in range(5000))

    report = sensors.sensors.insert_readings_csv(
        io.BytesIO(content.encode()), unique_identifier="S1", measure_name="temperature"
    )

    assert report.stored == 5000


def test_export_refreshes_an_expired_access_token(sensors: Client) -> None:
    sensors.sensors.insert_sensor_readings("temperature", "S1", [2.5], [T0])
    _expire_access_token(sensors)

    exported = sensors.sensors.export_sensor_readings("temperature", "S1", T0, T0)

    assert exported.decode().splitlines()[1:] == ["2024-01-01T00:00:00Z,2.5"]
