"""The typed client's /sensor resource against the real backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from pydantic import ValidationError

from dtbase.client import ApiError, Client
from dtbase.schemas.common import Msg
from dtbase.schemas.sensors import Reading, Sensor, SensorMeasure, SensorType
from dtbase.schemas.values import ValueDatatype

KELVIN = SensorMeasure(name="temperature", units="K", datatype=ValueDatatype.float)
ICON = SensorMeasure(name="icon", units=None, datatype=ValueDatatype.string)
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_types_and_measures(client: Client) -> None:
    inserted = client.sensors.insert_sensor_type("Weather", [KELVIN, ICON], "Weather sensors")

    assert inserted == Msg(detail="Sensor type inserted")
    assert client.sensors.list_sensor_types() == [
        SensorType(name="Weather", description="Weather sensors", measures=[KELVIN, ICON])
    ]
    assert client.sensors.list_measures() == [KELVIN, ICON]

    client.sensors.edit_sensor_type("Weather", new_name="Meteo")
    client.sensors.edit_sensor_measure("icon", None, new_units="code")
    assert client.sensors.list_sensor_types()[0].name == "Meteo"
    assert client.sensors.list_sensor_types()[0].description == "Weather sensors"
    assert client.sensors.list_measures()[1].units == "code"

    assert client.sensors.delete_sensor_type("Meteo") == Msg(detail="Sensor type deleted")
    deleted = client.sensors.delete_sensor_measure("icon", "code")
    assert deleted == Msg(detail="Sensor measure deleted")
    assert client.sensors.list_measures() == [KELVIN]


def test_edits_leave_out_what_is_not_given_and_clear_what_is_none(client: Client) -> None:
    client.sensors.insert_sensor_type("Weather", [KELVIN], "Weather sensors")
    client.sensors.edit_sensor_type("Weather", description=None)
    client.sensors.edit_sensor_measure("temperature", "K", new_units=None)
    client.sensors.edit_sensor_measure("temperature", None, new_name="temp")

    assert client.sensors.list_sensor_types() == [
        SensorType(
            name="Weather",
            description=None,
            measures=[SensorMeasure(name="temp", units=None, datatype=ValueDatatype.float)],
        )
    ]


def test_plain_dicts_for_measures_and_series(client: Client) -> None:
    """Scripts may write models as dicts; strict mypy checks this file, so the types
    accept them too."""
    measure = {"name": "temperature", "units": "K", "datatype": "float"}
    client.sensors.insert_sensor_type("Weather", [measure])
    client.sensors.insert_sensor("Weather", "S1")
    series = {
        "unique_identifier": "S1",
        "measure_name": "temperature",
        "readings": [1.5],
        "timestamps": [T0],
    }

    client.sensors.insert_readings_bulk([series])

    assert client.sensors.list_measures() == [KELVIN]
    assert client.sensors.sensor_readings("temperature", "S1", T0, T0) == [
        Reading(timestamp=T0, value=1.5)
    ]
    with pytest.raises(ValidationError):
        client.sensors.insert_sensor_type("Other", [{"name": "rain"}])
    assert [t.name for t in client.sensors.list_sensor_types()] == ["Weather"]


def test_reads_tell_no_units_from_units_not_given(client: Client) -> None:
    unitless = SensorMeasure(name="temperature", units=None, datatype=ValueDatatype.string)
    client.sensors.insert_sensor_type("Weather", [KELVIN, unitless])
    client.sensors.insert_sensor("Weather", "S1")
    client.sensors.insert_sensor_readings("temperature", "S1", [290.0], [T0], measure_units="K")
    client.sensors.insert_sensor_readings("temperature", "S1", ["warm"], [T0], measure_units=None)

    readings = client.sensors.sensor_readings("temperature", "S1", T0, T0, measure_units=None)

    assert readings == [Reading(timestamp=T0, value="warm")]
    with pytest.raises(ApiError) as ambiguous:
        client.sensors.sensor_readings("temperature", "S1", T0, T0)
    assert ambiguous.value.status_code == 400


def test_sensors(client: Client) -> None:
    client.sensors.insert_sensor_type("Weather", [KELVIN])
    client.sensors.insert_sensor_type("Other", [])

    assert client.sensors.insert_sensor("Weather", "S1", "Roof") == Msg(detail="Sensor inserted")
    client.sensors.insert_sensor("Other", "S2", notes="spare")
    client.sensors.insert_sensor("Weather", "S3")

    assert client.sensors.list_sensors() == [
        Sensor(unique_identifier="S1", name="Roof", notes=None),
        Sensor(unique_identifier="S2", name=None, notes="spare"),
        Sensor(unique_identifier="S3", name=None, notes=None),
    ]
    assert [s.unique_identifier for s in client.sensors.list_sensors("Weather")] == ["S1", "S3"]
    assert [s.unique_identifier for s in client.sensors.list_sensors(limit=1, offset=1)] == ["S2"]

    assert client.sensors.edit_sensor("S2", "Spare", "") == Msg(detail="Sensor edited")
    assert client.sensors.list_sensors("Other")[0].name == "Spare"
    client.sensors.edit_sensor("S2", None, "moved")
    assert client.sensors.list_sensors("Other")[0].name is None
    assert client.sensors.delete_sensor("S2") == Msg(detail="Sensor deleted")
    assert client.sensors.list_sensors("Other") == []


def test_readings(client: Client) -> None:
    celsius = SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.integer)
    client.sensors.insert_sensor_type("Weather", [KELVIN, celsius, ICON])
    client.sensors.insert_sensor("Weather", "S1")
    hours = [T0 + timedelta(hours=h) for h in range(3)]

    inserted = client.sensors.insert_sensor_readings(
        "temperature", "S1", [290, 290.5, 291.25], hours, measure_units="K"
    )
    client.sensors.insert_sensor_readings("temperature", "S1", [17], hours[:1], "C")
    client.sensors.insert_sensor_readings("icon", "S1", ["01d"], [datetime(2024, 1, 1)])

    assert inserted == Msg(detail="Sensor readings inserted")
    assert client.sensors.sensor_readings("temperature", "S1", hours[1], hours[2], "K") == [
        Reading(value=290.5, timestamp=hours[1]),
        Reading(value=291.25, timestamp=hours[2]),
    ]
    [reading] = client.sensors.sensor_readings("temperature", "S1", T0, T0, "C")
    assert reading.value == 17
    assert type(reading.value) is int
    plus_one = timezone(timedelta(hours=1))
    [icon] = client.sensors.sensor_readings("icon", "S1", T0, T0.astimezone(plus_one))
    assert icon == Reading(value="01d", timestamp=T0)


def test_sensor_locations(client: Client, admin: httpx.Client) -> None:
    schema = {
        "name": "xy",
        "description": None,
        "identifiers": [
            {"name": "x", "units": None, "datatype": "float"},
            {"name": "y", "units": None, "datatype": "float"},
        ],
    }
    assert admin.post("/location/insert-location-schema", json=schema).status_code == 201
    for x in (1.5, 2.5):
        location = {"schema_name": "xy", "coordinates": {"x": x, "y": 0.5}}
        assert admin.post("/location/insert-location-for-schema", json=location).status_code == 201
    client.sensors.insert_sensor_type("T", [])
    client.sensors.insert_sensor("T", "S1")

    inserted = client.sensors.insert_sensor_location("S1", "xy", {"x": 2.5}, T0)
    client.sensors.insert_sensor_location("S1", "xy", {"x": 1.5, "y": 0.5})

    assert inserted == Msg(detail="Sensor location inserted")
    newest, oldest = client.sensors.list_sensor_locations("S1")
    assert (newest.id, newest.coordinates) == (1, {"x": 1.5, "y": 0.5})
    assert newest.installation_datetime > datetime(2025, 1, 1, tzinfo=UTC)
    assert (oldest.id, oldest.coordinates, oldest.installation_datetime) == (
        2,
        {"x": 2.5, "y": 0.5},
        T0,
    )


def test_errors_are_api_errors(client: Client) -> None:
    client.sensors.insert_sensor_type("T", [KELVIN])
    client.sensors.insert_sensor("T", "S1")

    with pytest.raises(ApiError) as duplicate:
        client.sensors.insert_sensor("T", "S1")
    with pytest.raises(ApiError) as unknown:
        client.sensors.edit_sensor("nope", "n", "x")
    with pytest.raises(ApiError) as mistyped:
        client.sensors.insert_sensor_readings("temperature", "S1", [1.0, "hot"], [T0, T0])

    assert (duplicate.value.status_code, duplicate.value.detail) == (409, "Sensor exists already")
    assert (unknown.value.status_code, unknown.value.detail) == (400, "Sensor does not exist")
    assert mistyped.value.status_code == 422
    assert mistyped.value.detail[0]["loc"] == ["body", "readings", 1]
