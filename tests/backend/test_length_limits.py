"""Names longer than their column are a 422 naming the field and its limit (never the
database's `value too long for type character varying(100)`), and store nothing.

Every VARCHAR column that a request writes is here: its schema field carries the same
`max_length` that the table takes from `dtbase.schemas`.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dtbase.schemas.common import NAME_LENGTH
from dtbase.schemas.users import EMAIL_LENGTH

SENSOR_MEASURE = {"name": "t", "units": "K", "datatype": "float"}
IDENTIFIER = {"name": "x", "units": "m", "datatype": "float"}
SCHEMA = {"name": "S", "description": None, "identifiers": [IDENTIFIER]}
MODEL_MEASURE = {"name": "mm", "units": "K", "datatype": "float"}
LONG = "{}"  # where the too-long text goes

# (path, body with LONG in the limited field, the field's location, its limit)
CASES: list[tuple[str, dict[str, Any], list[str | int], int]] = [
    ("/sensor/insert-sensor-type", {"name": LONG, "measures": [SENSOR_MEASURE]}, ["name"], 0),
    (
        "/sensor/insert-sensor-type",
        {"name": "U", "measures": [{**SENSOR_MEASURE, "name": LONG}]},
        ["measures", 0, "name"],
        0,
    ),
    (
        "/sensor/insert-sensor-type",
        {"name": "U", "measures": [{**SENSOR_MEASURE, "units": LONG}]},
        ["measures", 0, "units"],
        0,
    ),
    (
        "/sensor/insert-sensor",
        {"type_name": "T", "unique_identifier": LONG},
        ["unique_identifier"],
        0,
    ),
    (
        "/sensor/insert-sensor",
        {"type_name": "T", "unique_identifier": "s2", "name": LONG},
        ["name"],
        0,
    ),
    ("/sensor/edit-sensor", {"unique_identifier": "s", "name": LONG, "notes": ""}, ["name"], 0),
    ("/sensor/edit-sensor-type", {"type_name": "T", "new_name": LONG}, ["new_name"], 0),
    (
        "/sensor/edit-sensor-measure",
        {"name": "t", "units": "K", "new_name": LONG},
        ["new_name"],
        0,
    ),
    (
        "/sensor/edit-sensor-measure",
        {"name": "t", "units": "K", "new_units": LONG},
        ["new_units"],
        0,
    ),
    ("/location/insert-location-schema", {**SCHEMA, "name": LONG}, ["name"], 0),
    (
        "/location/insert-location-schema",
        {**SCHEMA, "name": "S2", "identifiers": [{**IDENTIFIER, "name": LONG}]},
        ["identifiers", 0, "name"],
        0,
    ),
    (
        "/location/insert-location-schema",
        {**SCHEMA, "name": "S2", "identifiers": [{**IDENTIFIER, "units": LONG}]},
        ["identifiers", 0, "units"],
        0,
    ),
    (
        "/location/insert-location",
        {"identifiers": [{**IDENTIFIER, "name": LONG}], "values": [1.0]},
        ["identifiers", 0, "name"],
        0,
    ),
    ("/location/edit-location-schema", {"schema_name": "S", "new_name": LONG}, ["new_name"], 0),
    ("/model/insert-model", {"name": LONG}, ["name"], 0),
    ("/model/edit-model", {"name": "m", "new_name": LONG}, ["new_name"], 0),
    ("/model/insert-model-measure", {**MODEL_MEASURE, "name": LONG}, ["name"], 0),
    ("/model/insert-model-measure", {**MODEL_MEASURE, "units": LONG}, ["units"], 0),
    (
        "/model/edit-model-measure",
        {"name": "mm", "units": "K", "new_name": LONG},
        ["new_name"],
        0,
    ),
    (
        "/model/edit-model-measure",
        {"name": "mm", "units": "K", "new_units": LONG},
        ["new_units"],
        0,
    ),
    ("/fdb/assign-codes", {"model": LONG}, ["model"], 0),
    (
        "/fdb/assign-codes",
        {"model": "m", "measures": [{"name": LONG, "units": "K"}]},
        ["measures", 0, "name"],
        0,
    ),
    (
        "/fdb/assign-codes",
        {"model": "m", "measures": [{"name": "mm", "units": LONG}]},
        ["measures", 0, "units"],
        0,
    ),
    (
        "/fdb/assign-codes",
        {"model": "m", "sensor": {"sensor": "s", "measure": LONG}},
        ["sensor", "measure"],
        0,
    ),
    (
        "/fdb/assign-codes",
        {"model": "m", "sensor": {"sensor": "s", "measure": "t", "units": LONG}},
        ["sensor", "units"],
        0,
    ),
    (
        "/user/create-user",
        {"email": LONG, "password": "x" * 12, "role": "user"},
        ["email"],
        EMAIL_LENGTH,
    ),
]
# (method, path) of the answers that show every field above
LISTINGS = [
    ("GET", "/sensor/list-sensor-types"),
    ("POST", "/sensor/list-sensors"),
    ("GET", "/location/list-location-schemas"),
    ("GET", "/model/list-models"),
    ("GET", "/model/list-model-measures"),
    ("GET", "/user/list-users"),
    ("GET", "/fdb/list-codes"),
]


def _limit(case_limit: int) -> int:
    return case_limit or NAME_LENGTH


def _long(length: int, *, email: bool) -> str:
    if email:
        return "a" * (length - len("@example.org")) + "@example.org"
    return "n" * length


def _filled(body: Any, text: str) -> Any:
    if isinstance(body, dict):
        return {key: _filled(value, text) for key, value in body.items()}
    if isinstance(body, list):
        return [_filled(item, text) for item in body]
    return text if body == LONG else body


@pytest.fixture
def existing(admin: httpx.Client) -> httpx.Client:
    for path, body in [
        ("/sensor/insert-sensor-type", {"name": "T", "measures": [SENSOR_MEASURE]}),
        ("/sensor/insert-sensor", {"type_name": "T", "unique_identifier": "s"}),
        ("/location/insert-location-schema", SCHEMA),
        ("/model/insert-model", {"name": "m"}),
        ("/model/insert-model-measure", MODEL_MEASURE),
    ]:
        response = admin.post(path, json=body)
        assert response.status_code == 201, response.text
    return admin


def _state(client: httpx.Client) -> list[Any]:
    answers = [client.request(method, path, json={}) for method, path in LISTINGS]
    assert [answer.status_code for answer in answers] == [200] * len(LISTINGS)
    return [answer.json() for answer in answers]


@pytest.mark.parametrize(("path", "body", "field", "limit"), CASES)
def test_one_character_too_many_is_a_422_naming_the_field_and_its_limit(
    existing: httpx.Client, path: str, body: dict[str, Any], field: list[str | int], limit: int
) -> None:
    before = _state(existing)
    text = _long(_limit(limit) + 1, email=field == ["email"])

    response = existing.post(path, json=_filled(body, text))

    assert response.status_code == 422, response.text
    problem = response.json()["detail"][0]
    assert problem["loc"] == ["body", *field]
    assert problem["type"] == "string_too_long"
    assert f"at most {_limit(limit)} characters" in problem["msg"]
    assert "character varying" not in response.text
    assert _state(existing) == before


@pytest.mark.parametrize(("path", "body", "field", "limit"), CASES)
def test_a_name_as_long_as_the_limit_is_stored(
    existing: httpx.Client, path: str, body: dict[str, Any], field: list[str | int], limit: int
) -> None:
    text = _long(_limit(limit), email=field == ["email"])

    response = existing.post(path, json=_filled(body, text))

    assert response.status_code in (200, 201), response.text
    assert text in str(_state(existing))
