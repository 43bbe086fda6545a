"""Reads the frontend's tables are made of, through the typed client against the real
backend: sensors with their type and location, one sensor by id, readings as a table of
measures (paged both ways), and downsampled means without float noise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from dtbase.client import ApiError, Client
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import ValueDatatype

T0 = datetime(2024, 1, 1, tzinfo=UTC)
TEMPERATURE = SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float)
RAINING = SensorMeasure(name="raining", units=None, datatype=ValueDatatype.boolean)
ICON = SensorMeasure(name="icon", units=None, datatype=ValueDatatype.string)


@pytest.fixture
def weather(client: Client) -> None:
    """w-1 reports temperature every minute, raining every other minute and an icon at
    minute 3 only; w-2 has no readings."""
    client.sensors.insert_sensor_type("weather", [TEMPERATURE, RAINING, ICON])
    client.sensors.insert_sensor("weather", "w-1", "Roof")
    client.sensors.insert_sensor("weather", "w-2")
    minutes = [T0 + timedelta(minutes=n) for n in range(10)]
    client.sensors.insert_sensor_readings(
        "temperature", "w-1", [20.0 + n / 10 for n in range(10)], minutes
    )
    client.sensors.insert_sensor_readings(
        "raining", "w-1", [n % 4 == 0 for n in range(0, 10, 2)], minutes[::2]
    )
    client.sensors.insert_sensor_readings("icon", "w-1", ["sun"], [minutes[3]])


def test_sensor_details_name_type_and_newest_location(client: Client, weather: None) -> None:
    x = {"name": "x", "units": None, "datatype": "float"}
    schema = client.locations.insert_location([x], [1.5]).schema_name
    client.locations.insert_location([x], [2.5])
    client.sensors.insert_sensor_location("w-1", schema, {"x": 1.5}, T0)
    client.sensors.insert_sensor_location("w-1", schema, {"x": 2.5}, T0 + timedelta(days=1))

    details = client.sensors.list_sensors_details()
    assert [(d.unique_identifier, d.name, d.type_name) for d in details] == [
        ("w-1", "Roof", "weather"),
        ("w-2", None, "weather"),
    ]
    assert details[0].location is not None
    assert details[0].location.coordinates == {"x": 2.5}
    assert details[0].location.installation_datetime == T0 + timedelta(days=1)
    assert details[1].location is None
    assert client.sensors.list_sensors_details("weather", limit=1, offset=1) == details[1:]
    assert client.sensors.list_sensors_details("no such type") == []

    assert client.sensors.get_sensor("w-1") == details[0]
    with pytest.raises(ApiError) as missing:
        client.sensors.get_sensor("w-9")
    assert (missing.value.status_code, missing.value.detail) == (400, "Sensor does not exist")


def test_readings_table_has_a_column_per_measure_and_a_row_per_timestamp(
    client: Client, weather: None
) -> None:
    table = client.sensors.sensor_readings_table("w-1", T0, T0 + timedelta(hours=1))

    assert table.total == 10
    assert table.measures == [TEMPERATURE, RAINING, ICON]
    assert [(row.timestamp, row.values) for row in table.rows[:4]] == [
        (T0, [20.0, True, None]),
        (T0 + timedelta(minutes=1), [20.1, None, None]),
        (T0 + timedelta(minutes=2), [20.2, False, None]),
        (T0 + timedelta(minutes=3), [20.3, None, "sun"]),
    ]


def test_readings_table_pages_both_ways_and_past_the_end(client: Client, weather: None) -> None:
    whole = client.sensors.sensor_readings_table("w-1", T0, T0 + timedelta(hours=1)).rows
    pages = [
        client.sensors.sensor_readings_table(
            "w-1", T0, T0 + timedelta(hours=1), offset=offset, limit=3
        )
        for offset in range(0, 12, 3)
    ]
    assert {page.total for page in pages} == {10}
    assert [row for page in pages for row in page.rows] == whole
    assert pages[-1].rows == [whole[9]]

    newest = client.sensors.sensor_readings_table(
        "w-1", T0, T0 + timedelta(hours=1), offset=2, limit=3, newest_first=True
    )
    assert newest.rows == whole[::-1][2:5]
    beyond = client.sensors.sensor_readings_table(
        "w-1", T0, T0 + timedelta(hours=1), offset=10, limit=3
    )
    assert (beyond.total, beyond.rows) == (10, [])


def test_readings_table_of_chosen_measures_in_their_order(client: Client, weather: None) -> None:
    table = client.sensors.sensor_readings_table(
        "w-1",
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=4),  # both ends included
        measures=[{"name": "icon", "units": None}, {"name": "raining", "units": None}],
    )
    assert table.measures == [ICON, RAINING]
    # Only timestamps with a reading of a chosen measure are rows.
    assert [(row.timestamp.minute, row.values) for row in table.rows] == [
        (2, [None, False]),
        (3, ["sun", None]),
        (4, [None, True]),
    ]
    empty = client.sensors.sensor_readings_table("w-2", T0, T0 + timedelta(hours=1))
    assert (empty.total, empty.rows, len(empty.measures)) == (0, [], 3)


def test_readings_table_refuses_what_names_nothing(client: Client, weather: None) -> None:
    with pytest.raises(ApiError) as sensor:
        client.sensors.sensor_readings_table("w-9", T0, T0 + timedelta(hours=1))
    assert (sensor.value.status_code, sensor.value.detail) == (400, "Sensor does not exist")
    with pytest.raises(ApiError) as measure:
        client.sensors.sensor_readings_table(
            "w-1", T0, T0 + timedelta(hours=1), measures=[{"name": "humidity", "units": "%"}]
        )
    assert measure.value.status_code == 400
    assert "humidity" in str(measure.value.detail)
    for bad in ({"limit": 0}, {"limit": 10_001}, {"offset": -1}, {"offset": 2**63}):
        with pytest.raises(ApiError) as refused:
            client.request(
                "POST",
                "/sensor/sensor-readings-table",
                {"unique_identifier": "w-1", "dt_from": T0.isoformat(), "dt_to": T0.isoformat()}
                | bad,
            )
        assert refused.value.status_code == 422
    with pytest.raises(ValidationError):
        client.sensors.sensor_readings_table("w-1", T0, T0, limit=0)


def test_downsampled_means_have_no_float_noise(client: Client) -> None:
    """18.7, 18.71 and 18.72 sum (in doubles) to a mean of 18.709999999999997; the mean
    of the stored values is 18.71. A bucket of one value keeps all its digits."""
    client.sensors.insert_sensor_type("thermo", [TEMPERATURE])
    client.sensors.insert_sensor("thermo", "t-1")
    exact = 0.30000000000000004  # 0.1 + 0.2: digits the user stored
    client.sensors.insert_sensor_readings(
        "temperature",
        "t-1",
        [18.7, 18.71, 18.72, exact],
        [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2), T0 + timedelta(hours=1)],
    )
    buckets = client.sensors.sensor_readings_downsampled(
        "temperature", "t-1", T0, T0 + timedelta(hours=2), bucket_seconds=60
    )
    assert [(b.value, b.count) for b in buckets] == [(18.71, 3), (exact, 1)]


def test_downsampled_read_without_points_or_width_says_what_is_missing(client: Client) -> None:
    with pytest.raises(TypeError, match="needs max_points or bucket_seconds"):
        client.sensors.sensor_readings_downsampled("temperature", "t-1", T0, T0)
