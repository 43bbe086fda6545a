"""Sensor types and measures: S1, S7, S8, S11 and the additive edit/delete endpoints."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

TEMPERATURE = {"name": "temperature", "units": "K", "datatype": "float"}
HUMIDITY = {"name": "humidity", "units": "%", "datatype": "integer"}
ICON = {"name": "icon", "units": None, "datatype": "string"}
WEATHER = {"name": "Weather", "description": "Weather sensors", "measures": [TEMPERATURE, ICON]}


def _insert_type(admin: httpx.Client, body: dict[str, Any]) -> None:
    response = admin.post("/sensor/insert-sensor-type", json=body)
    assert response.status_code == 201, response.text


def _state(admin: httpx.Client) -> dict[str, Any]:
    """Everything the sensor endpoints can show, to check failed requests change nothing."""
    return {
        "types": admin.get("/sensor/list-sensor-types").json(),
        "measures": admin.get("/sensor/list-measures").json(),
        "sensors": admin.post("/sensor/list-sensors", json={}).json(),
    }


def test_insert_sensor_type_then_list(admin: httpx.Client) -> None:
    response = admin.post("/sensor/insert-sensor-type", json=WEATHER)

    assert response.status_code == 201
    assert response.json() == {"detail": "Sensor type inserted"}
    assert admin.get("/sensor/list-sensor-types").json() == [WEATHER]
    assert admin.get("/sensor/list-measures").json() == [TEMPERATURE, ICON]


def test_types_without_description_or_measures(admin: httpx.Client) -> None:
    _insert_type(admin, {"name": "Empty", "measures": []})
    _insert_type(admin, {"name": "Hygrometer", "description": None, "measures": [HUMIDITY]})

    assert admin.get("/sensor/list-sensor-types").json() == [
        {"name": "Empty", "description": None, "measures": []},
        {"name": "Hygrometer", "description": None, "measures": [HUMIDITY]},
    ]


def test_existing_measures_are_reused_as_they_are(admin: httpx.Client) -> None:
    _insert_type(admin, WEATHER)
    # A new measure before existing ones (DTBase: 500), an existing one with another
    # datatype (ignored), and a NULL-units measure listed twice (DTBase: 500).
    body = {
        "name": "Station",
        "measures": [HUMIDITY, {**TEMPERATURE, "datatype": "string"}, ICON, ICON],
    }

    response = admin.post("/sensor/insert-sensor-type", json=body)

    assert response.status_code == 201
    assert admin.get("/sensor/list-measures").json() == [TEMPERATURE, ICON, HUMIDITY]
    assert admin.get("/sensor/list-sensor-types").json()[1] == {
        "name": "Station",
        "description": None,
        "measures": [HUMIDITY, TEMPERATURE, ICON],
    }


def test_units_count_for_measures(admin: httpx.Client) -> None:
    celsius = {**TEMPERATURE, "units": "C"}
    no_units = {**TEMPERATURE, "units": None}

    _insert_type(admin, {"name": "Both", "measures": [TEMPERATURE, celsius, no_units]})

    assert admin.get("/sensor/list-measures").json() == [TEMPERATURE, celsius, no_units]


def test_duplicate_type_is_409_and_changes_nothing(admin: httpx.Client) -> None:
    _insert_type(admin, WEATHER)
    before = _state(admin)

    response = admin.post(
        "/sensor/insert-sensor-type", json={"name": "Weather", "measures": [HUMIDITY]}
    )

    assert response.status_code == 409
    assert response.json() == {"detail": "Sensor type exists already"}
    assert _state(admin) == before


@pytest.mark.parametrize(
    ("body", "error_type", "loc"),
    [
        (
            {"name": "T", "measures": [{**TEMPERATURE, "datatype": "complex"}]},
            "enum",
            ["body", "measures", 0, "datatype"],
        ),
        (
            {"name": "T", "measures": [{"name": "x", "datatype": "float"}]},
            "missing",
            ["body", "measures", 0, "units"],
        ),
        ({"name": "T"}, "missing", ["body", "measures"]),
        ({"name": 5, "measures": []}, "string_type", ["body", "name"]),
    ],
)
def test_insert_sensor_type_rejects_bad_input(
    admin: httpx.Client, body: dict[str, Any], error_type: str, loc: list[Any]
) -> None:
    response = admin.post("/sensor/insert-sensor-type", json=body)

    assert response.status_code == 422
    assert [(e["type"], e["loc"]) for e in response.json()["detail"]] == [(error_type, loc)]
    assert _state(admin) == {"types": [], "measures": [], "sensors": []}


def test_delete_sensor_type_keeps_its_measures(admin: httpx.Client) -> None:
    _insert_type(admin, WEATHER)
    _insert_type(admin, {"name": "Other", "measures": [ICON]})

    response = admin.post("/sensor/delete-sensor-type", json={"type_name": "Weather"})

    assert response.status_code == 200
    assert response.json() == {"detail": "Sensor type deleted"}
    assert [t["name"] for t in admin.get("/sensor/list-sensor-types").json()] == ["Other"]
    assert admin.get("/sensor/list-measures").json() == [TEMPERATURE, ICON]


def test_delete_unknown_sensor_type_is_400(admin: httpx.Client) -> None:
    _insert_type(admin, WEATHER)

    response = admin.post("/sensor/delete-sensor-type", json={"type_name": "Nope"})

    assert response.status_code == 400
    assert response.json() == {"detail": "Sensor type does not exist"}
    assert admin.get("/sensor/list-sensor-types").json() == [WEATHER]


def test_delete_sensor_type_with_sensors_is_409(admin: httpx.Client) -> None:
    _insert_type(admin, WEATHER)
    for uid in ("S1", "S2"):
        admin.post("/sensor/insert-sensor", json={"type_name": "Weather", "unique_identifier": uid})
    before = _state(admin)

    response = admin.post("/sensor/delete-sensor-type", json={"type_name": "Weather"})

    assert response.status_code == 409
    assert response.json() == {"detail": "Sensor type 'Weather' still has 2 sensors"}
    assert _state(admin) == before


def test_edit_sensor_type(admin: httpx.Client) -> None:
    _insert_type(admin, WEATHER)

    renamed = admin.post(
        "/sensor/edit-sensor-type", json={"type_name": "Weather", "new_name": "Meteo"}
    )
    described = admin.post(
        "/sensor/edit-sensor-type", json={"type_name": "Meteo", "description": "New words"}
    )

    assert (renamed.status_code, renamed.json()) == (200, {"detail": "Sensor type edited"})
    assert described.status_code == 200
    assert admin.get("/sensor/list-sensor-types").json() == [
        {**WEATHER, "name": "Meteo", "description": "New words"}
    ]
    cleared = admin.post(
        "/sensor/edit-sensor-type", json={"type_name": "Meteo", "description": None}
    )
    assert cleared.status_code == 200
    assert admin.get("/sensor/list-sensor-types").json()[0]["description"] is None


def test_edit_sensor_type_errors(admin: httpx.Client) -> None:
    _insert_type(admin, WEATHER)
    _insert_type(admin, {"name": "Other", "measures": []})
    before = _state(admin)

    unknown = admin.post("/sensor/edit-sensor-type", json={"type_name": "Nope", "new_name": "X"})
    clash = admin.post(
        "/sensor/edit-sensor-type",
        json={"type_name": "Other", "new_name": "Weather", "description": "changed"},
    )

    assert (unknown.status_code, unknown.json()) == (400, {"detail": "Sensor type does not exist"})
    assert (clash.status_code, clash.json()) == (409, {"detail": "Sensor type exists already"})
    assert _state(admin) == before


def test_edit_sensor_measure(admin: httpx.Client) -> None:
    _insert_type(admin, WEATHER)

    renamed = admin.post(
        "/sensor/edit-sensor-measure",
        json={"name": "temperature", "units": "K", "new_name": "temp", "new_units": "kelvin"},
    )
    retyped = admin.post(
        "/sensor/edit-sensor-measure",
        json={"name": "icon", "units": None, "new_units": "code", "new_datatype": "integer"},
    )

    assert (renamed.status_code, renamed.json()) == (200, {"detail": "Sensor measure edited"})
    assert retyped.status_code == 200
    temp = {"name": "temp", "units": "kelvin", "datatype": "float"}
    icon = {"name": "icon", "units": "code", "datatype": "integer"}
    assert admin.get("/sensor/list-measures").json() == [temp, icon]
    assert admin.get("/sensor/list-sensor-types").json()[0]["measures"] == [temp, icon]
    unitless = admin.post(
        "/sensor/edit-sensor-measure", json={"name": "icon", "units": "code", "new_units": None}
    )
    assert unitless.status_code == 200
    assert admin.get("/sensor/list-measures").json()[1] == {**icon, "units": None}


def test_edit_sensor_measure_errors(admin: httpx.Client) -> None:
    _insert_type(admin, WEATHER)
    admin.post("/sensor/insert-sensor", json={"type_name": "Weather", "unique_identifier": "S1"})
    admin.post(
        "/sensor/insert-sensor-readings",
        json={
            "measure_name": "temperature",
            "unique_identifier": "S1",
            "readings": [1.5],
            "timestamps": ["2024-01-01T00:00:00Z"],
        },
    )
    before = _state(admin)

    unknown = admin.post(
        "/sensor/edit-sensor-measure", json={"name": "temperature", "units": None, "new_name": "t"}
    )
    clash = admin.post(
        "/sensor/edit-sensor-measure",
        json={"name": "icon", "units": None, "new_name": "temperature", "new_units": "K"},
    )
    retype = admin.post(
        "/sensor/edit-sensor-measure",
        json={"name": "temperature", "units": "K", "new_name": "t", "new_datatype": "string"},
    )
    missing_units = admin.post("/sensor/edit-sensor-measure", json={"name": "icon"})

    assert (unknown.status_code, unknown.json()) == (
        400,
        {"detail": "Sensor measure does not exist"},
    )
    assert (clash.status_code, clash.json()) == (409, {"detail": "Sensor measure exists already"})
    assert retype.status_code == 409
    assert retype.json() == {
        "detail": "Sensor measure 'temperature' has 1 reading: its datatype cannot change"
    }
    assert missing_units.status_code == 422
    assert _state(admin) == before
    same_type = admin.post(
        "/sensor/edit-sensor-measure",
        json={"name": "temperature", "units": "K", "new_datatype": "float"},
    )
    assert same_type.status_code == 200


def test_delete_sensor_measure(admin: httpx.Client) -> None:
    _insert_type(admin, WEATHER)
    admin.post("/sensor/delete-sensor-type", json={"type_name": "Weather"})

    response = admin.post("/sensor/delete-sensor-measure", json={"name": "icon", "units": None})

    assert response.status_code == 200
    assert response.json() == {"detail": "Sensor measure deleted"}
    assert admin.get("/sensor/list-measures").json() == [TEMPERATURE]


def test_delete_sensor_measure_errors(admin: httpx.Client) -> None:
    _insert_type(admin, WEATHER)
    _insert_type(admin, {"name": "Other", "measures": [ICON]})
    before = _state(admin)

    unknown = admin.post("/sensor/delete-sensor-measure", json={"name": "icon", "units": "x"})
    used = admin.post("/sensor/delete-sensor-measure", json={"name": "icon", "units": None})

    assert (unknown.status_code, unknown.json()) == (
        400,
        {"detail": "Sensor measure does not exist"},
    )
    assert used.status_code == 409
    assert used.json() == {
        "detail": "Sensor measure 'icon' is used by sensor types 'Weather', 'Other'"
    }
    assert _state(admin) == before
