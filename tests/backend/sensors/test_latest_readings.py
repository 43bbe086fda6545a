"""`list-latest-readings` (additive): the newest reading of each measure of each sensor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dtbase.client import Client
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import ValueDatatype

T0 = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
def stations(client: Client) -> Client:
    client.sensors.insert_sensor_type(
        "weather",
        [
            SensorMeasure(name="temperature", units="K", datatype=ValueDatatype.float),
            SensorMeasure(name="icon", units=None, datatype=ValueDatatype.string),
        ],
    )
    client.sensors.insert_sensor_type(
        "door", [SensorMeasure(name="open", units=None, datatype=ValueDatatype.boolean)]
    )
    for uid in ("w1", "w2"):
        client.sensors.insert_sensor("weather", uid)
    client.sensors.insert_sensor("door", "d1")
    stamps = [T0 + timedelta(minutes=i) for i in range(50)]
    # Inserted out of order: the newest is not the last written.
    client.sensors.insert_sensor_readings(
        "temperature", "w1", [280.0 + i for i in range(50)][::-1], stamps[::-1]
    )
    client.sensors.insert_sensor_readings("icon", "w1", ["sun", "rain"], stamps[:2])
    client.sensors.insert_sensor_readings("open", "d1", [True, False], stamps[10:12])
    return client


def test_the_newest_reading_of_each_measure_with_nulls_where_none(stations: Client) -> None:
    latest = {
        (row.unique_identifier, row.measure_name): row
        for row in stations.sensors.list_latest_readings()
    }

    assert list(latest) == [
        ("w1", "icon"),
        ("w1", "temperature"),
        ("w2", "icon"),
        ("w2", "temperature"),
        ("d1", "open"),
    ]
    newest = latest[("w1", "temperature")]
    assert (newest.value, newest.timestamp) == (329.0, T0 + timedelta(minutes=49))
    assert (newest.type_name, newest.measure_units) == ("weather", "K")
    assert latest[("w1", "icon")].value == "rain"
    assert latest[("d1", "open")].value is False
    assert (latest[("w2", "temperature")].value, latest[("w2", "temperature")].timestamp) == (
        None,
        None,
    )


def test_paged_and_filtered_like_list_sensors(stations: Client) -> None:
    weather = stations.sensors.list_latest_readings(type_name="weather")
    assert {row.unique_identifier for row in weather} == {"w1", "w2"}
    second = stations.sensors.list_latest_readings(limit=1, offset=1)
    assert {row.unique_identifier for row in second} == {"w2"}
    assert stations.sensors.list_latest_readings(type_name="nobody") == []


def test_bad_paging_is_a_422(admin: httpx.Client) -> None:
    response = admin.post("/sensor/list-latest-readings", json={"limit": -1})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "limit"]
