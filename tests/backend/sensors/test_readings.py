"""Readings: S5 insert-sensor-readings and S9 sensor-readings."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

MEASURES = [
    {"name": "temperature", "units": "K", "datatype": "float"},
    {"name": "humidity", "units": "%", "datatype": "integer"},
    {"name": "raining", "units": None, "datatype": "boolean"},
    {"name": "icon", "units": "", "datatype": "string"},
]
DAY = ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z"]


@pytest.fixture
def station(admin: httpx.Client) -> httpx.Client:
    """Sensor S1 of type Station (the four measures above); type Other has `wind`."""
    for body in (
        {"name": "Station", "measures": MEASURES},
        {"name": "Other", "measures": [{"name": "wind", "units": "m/s", "datatype": "float"}]},
    ):
        assert admin.post("/sensor/insert-sensor-type", json=body).status_code == 201
    response = admin.post(
        "/sensor/insert-sensor", json={"type_name": "Station", "unique_identifier": "S1"}
    )
    assert response.status_code == 201
    return admin


def _insert(
    admin: httpx.Client, measure: str, readings: list[Any], timestamps: list[Any], **extra: Any
) -> httpx.Response:
    body = {
        "measure_name": measure,
        "unique_identifier": "S1",
        "readings": readings,
        "timestamps": timestamps,
        **extra,
    }
    return admin.post("/sensor/insert-sensor-readings", json=body)


def _read(
    admin: httpx.Client,
    measure: str,
    dt_from: str = "2000-01-01",
    dt_to: str = "2100-01-01",
    uid: str = "S1",
    **extra: Any,
) -> httpx.Response:
    body = {
        "measure_name": measure,
        "unique_identifier": uid,
        "dt_from": dt_from,
        "dt_to": dt_to,
        **extra,
    }
    return admin.post("/sensor/sensor-readings", json=body)


def _values(admin: httpx.Client, measure: str, **extra: Any) -> list[Any]:
    response = _read(admin, measure, **extra)
    assert response.status_code == 200, response.text
    return [reading["value"] for reading in response.json()]


@pytest.mark.parametrize(
    ("measure", "readings"),
    [
        ("temperature", [290.5, 291.0, -1.25]),
        ("humidity", [40, 0, -3]),
        ("raining", [True, False, True]),
        ("icon", ["01d", "", "10n"]),
    ],
)
def test_readings_round_trip_in_their_json_type(
    station: httpx.Client, measure: str, readings: list[Any]
) -> None:
    response = _insert(station, measure, readings, DAY)

    assert response.status_code == 201
    assert response.json() == {"detail": "Sensor readings inserted"}
    result = _read(station, measure).json()
    assert result == [{"value": v, "timestamp": t} for v, t in zip(readings, DAY, strict=True)]
    assert [type(r["value"]) for r in result] == [type(v) for v in readings]


def test_integers_are_fine_floats(station: httpx.Client) -> None:
    assert _insert(station, "temperature", [3, 4.5], DAY[:2]).status_code == 201

    values = _values(station, "temperature")

    assert values == [3.0, 4.5]
    assert all(isinstance(value, float) for value in values)


def test_readings_come_back_by_timestamp_within_inclusive_bounds(station: httpx.Client) -> None:
    _insert(station, "humidity", [3, 1, 2], [DAY[2], DAY[0], DAY[1]])

    response = _read(station, "humidity", dt_from=DAY[0], dt_to=DAY[1])

    assert response.json() == [
        {"value": 1, "timestamp": DAY[0]},
        {"value": 2, "timestamp": DAY[1]},
    ]
    assert _values(station, "humidity", dt_from=DAY[2], dt_to=DAY[2]) == [3]
    assert _values(station, "humidity", dt_from=DAY[2], dt_to=DAY[0]) == []


def test_timestamps_are_utc_and_keep_microseconds(station: httpx.Client) -> None:
    naive = "2024-03-29 01:00:00.517906"
    offset = "2024-03-29T03:00:00.000001+01:00"

    _insert(station, "humidity", [1, 2], [naive, offset])

    assert _read(station, "humidity", dt_from="2024-03-29", dt_to="2024-03-30").json() == [
        {"value": 1, "timestamp": "2024-03-29T01:00:00.517906Z"},
        {"value": 2, "timestamp": "2024-03-29T02:00:00.000001Z"},
    ]
    # Naive bounds are UTC too.
    assert _values(station, "humidity", dt_from="2024-03-29T01:00:00.517906") == [1, 2]
    assert _values(station, "humidity", dt_from="2024-03-29T01:00:00.517907") == [2]


def test_duplicate_readings_are_skipped(station: httpx.Client) -> None:
    _insert(station, "humidity", [1], [DAY[0]])

    response = _insert(station, "humidity", [9, 2, 8], [DAY[0], DAY[1], DAY[1]])

    assert response.status_code == 201
    assert _values(station, "humidity") == [1, 2]


def test_empty_lists_store_nothing(station: httpx.Client) -> None:
    response = _insert(station, "humidity", [], [])

    assert response.status_code == 201
    assert _values(station, "humidity") == []


@pytest.mark.parametrize(
    ("measure", "readings", "index", "message"),
    [
        ("temperature", [1.5, 2.5, "3"], 2, "expected a float value, got string '3'"),
        ("temperature", [1.5, True, 2.5], 1, "expected a float value, got boolean True"),
        ("humidity", [1, 2, 3.0], 2, "expected an integer value, got float 3.0"),
        ("humidity", [True, 2, 3], 0, "expected an integer value, got boolean True"),
        ("raining", [True, 1, False], 1, "expected a boolean value, got integer 1"),
        ("icon", ["a", "b", 3], 2, "expected a string value, got integer 3"),
        ("humidity", [1, 2**63, 3], 1, "integers must fit in 64 bits"),
    ],
)
def test_every_reading_must_fit_the_datatype(
    station: httpx.Client, measure: str, readings: list[Any], index: int, message: str
) -> None:
    response = _insert(station, measure, readings, DAY)

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "value_error",
                "loc": ["body", "readings", index],
                "msg": message,
                "input": readings[index],
            }
        ]
    }
    assert _values(station, measure) == []


@pytest.mark.parametrize(("readings", "timestamps"), [([1, 2, 3], DAY[:2]), ([1], DAY)])
def test_unequal_lengths_are_422(
    station: httpx.Client, readings: list[int], timestamps: list[str]
) -> None:
    response = _insert(station, "humidity", readings, timestamps)

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "readings"]
    assert error["msg"] == (
        f"{len(readings)} readings but {len(timestamps)} timestamps: give one timestamp per reading"
    )
    assert _values(station, "humidity") == []


@pytest.mark.parametrize(
    ("body", "error_type", "loc"),
    [
        ({"timestamps": ["yesterday"]}, "datetime_from_date_parsing", ["body", "timestamps", 0]),
        ({"readings": [None]}, "string_type", ["body", "readings", 0, "str"]),
        ({"readings": [[1]]}, "string_type", ["body", "readings", 0, "str"]),
        ({"measure_name": None}, "string_type", ["body", "measure_name"]),
    ],
)
def test_insert_sensor_readings_rejects_bad_json(
    station: httpx.Client, body: dict[str, Any], error_type: str, loc: list[Any]
) -> None:
    full = {
        "measure_name": "humidity",
        "unique_identifier": "S1",
        "readings": [1],
        "timestamps": [DAY[0]],
        **body,
    }

    response = station.post("/sensor/insert-sensor-readings", json=full)

    assert response.status_code == 422
    assert (error_type, loc) in [(e["type"], e["loc"]) for e in response.json()["detail"]]
    assert _values(station, "humidity") == []


def test_nan_is_422(station: httpx.Client) -> None:
    body = (
        '{"measure_name": "temperature", "unique_identifier": "S1", "readings": [1.0, NaN],'
        f' "timestamps": ["{DAY[0]}", "{DAY[1]}"]}}'
    )

    response = station.post(
        "/sensor/insert-sensor-readings",
        content=body,
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "readings", 1]]
    assert _values(station, "temperature") == []


def test_unknown_sensor_is_400(station: httpx.Client) -> None:
    response = station.post(
        "/sensor/insert-sensor-readings",
        json={
            "measure_name": "humidity",
            "unique_identifier": "S9",
            "readings": [1],
            "timestamps": [DAY[0]],
        },
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Sensor does not exist"}


@pytest.mark.parametrize(
    ("measure", "extra", "wanted"),
    [
        ("wind", {}, "'wind'"),
        ("pressure", {}, "'pressure'"),
        ("humidity", {"measure_units": "percent"}, "'humidity' (units 'percent')"),
    ],
)
def test_a_measure_the_type_lacks_is_400_naming_its_measures(
    station: httpx.Client, measure: str, extra: dict[str, Any], wanted: str
) -> None:
    response = _insert(station, measure, [1.0], [DAY[0]], **extra)

    assert response.status_code == 400
    assert response.json() == {
        "detail": f"Sensor type 'Station' has no measure {wanted}; its measures are: "
        "'temperature' (units 'K'), 'humidity' (units '%'), 'raining' (no units), "
        "'icon' (units '')"
    }


@pytest.fixture
def two_temperatures(admin: httpx.Client) -> httpx.Client:
    """Sensor T1 whose type has temperature in K, in C and without units."""
    measures = [
        {"name": "temperature", "units": units, "datatype": datatype}
        for units, datatype in (("K", "float"), ("C", "float"), (None, "string"))
    ]
    admin.post("/sensor/insert-sensor-type", json={"name": "Dual", "measures": measures})
    admin.post("/sensor/insert-sensor", json={"type_name": "Dual", "unique_identifier": "T1"})
    return admin


def _insert_t1(admin: httpx.Client, readings: list[Any], **extra: Any) -> httpx.Response:
    body = {
        "measure_name": "temperature",
        "unique_identifier": "T1",
        "readings": readings,
        "timestamps": [DAY[0]],
        **extra,
    }
    return admin.post("/sensor/insert-sensor-readings", json=body)


def test_measure_units_pick_one_of_several_measures(two_temperatures: httpx.Client) -> None:
    admin = two_temperatures

    kelvin = _insert_t1(admin, [290.0], measure_units="K")
    celsius = _insert_t1(admin, [17.0], measure_units="C")
    unitless = _insert_t1(admin, ["warm"], measure_units=None)

    assert [kelvin.status_code, celsius.status_code, unitless.status_code] == [201, 201, 201]
    assert _values(admin, "temperature", uid="T1", measure_units="K") == [290.0]
    assert _values(admin, "temperature", uid="T1", measure_units="C") == [17.0]
    assert _values(admin, "temperature", uid="T1", measure_units=None) == ["warm"]


def test_several_measures_of_a_name_need_measure_units(two_temperatures: httpx.Client) -> None:
    admin = two_temperatures
    choices = (
        "The sensor's type has 3 measures named 'temperature': 'temperature' (units 'K'), "
        "'temperature' (units 'C'), 'temperature' (no units); pick one with measure_units"
    )

    written = _insert_t1(admin, [290.0])
    read = _read(admin, "temperature", uid="T1")

    assert (written.status_code, written.json()) == (400, {"detail": choices})
    assert (read.status_code, read.json()) == (400, {"detail": choices})
    assert _values(admin, "temperature", uid="T1", measure_units="K") == []


def test_sensor_readings_of_an_unknown_sensor_are_empty(station: httpx.Client) -> None:
    response = _read(station, "no such measure", uid="S9")

    assert (response.status_code, response.json()) == (200, [])


def test_sensor_readings_of_a_measure_of_another_type_are_empty(station: httpx.Client) -> None:
    assert _values(station, "wind") == []
    assert _values(station, "wind", measure_units="m/s") == []


@pytest.mark.parametrize(
    ("measure", "extra"), [("pressure", {}), ("humidity", {"measure_units": "percent"})]
)
def test_sensor_readings_of_an_unknown_measure_is_400(
    station: httpx.Client, measure: str, extra: dict[str, Any]
) -> None:
    response = _read(station, measure, **extra)

    assert response.status_code == 400
    assert response.json() == {"detail": "Sensor measure does not exist"}


@pytest.mark.parametrize("missing", ["measure_name", "unique_identifier", "dt_from", "dt_to"])
def test_sensor_readings_needs_every_field(station: httpx.Client, missing: str) -> None:
    body = {
        "measure_name": "humidity",
        "unique_identifier": "S1",
        "dt_from": DAY[0],
        "dt_to": DAY[1],
    }
    del body[missing]

    response = station.post("/sensor/sensor-readings", json=body)

    assert response.status_code == 422
    assert [(e["type"], e["loc"]) for e in response.json()["detail"]] == [
        ("missing", ["body", missing])
    ]
