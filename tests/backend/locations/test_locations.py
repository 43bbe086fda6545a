"""Locations: L2, L3, L7, L9, edit-location, and the store functions other domains call."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from dtbase.backend.db import make_session_factory
from dtbase.backend.errors import InvalidInput, Unprocessable
from dtbase.backend.locations import store
from dtbase.backend.sensors.tables import Sensor, SensorLocation, SensorType
from dtbase.schemas.values import Scalar

# One identifier of each datatype.
F: dict[str, Any] = {"name": "f", "units": "m", "datatype": "float"}
I: dict[str, Any] = {"name": "i", "units": None, "datatype": "integer"}  # noqa: E741
S: dict[str, Any] = {"name": "s", "units": None, "datatype": "string"}
B: dict[str, Any] = {"name": "b", "units": None, "datatype": "boolean"}
ALL = {"name": "all", "description": None, "identifiers": [F, I, S, B]}
HERE: dict[str, Scalar] = {"b": True, "f": 1.5, "i": 7, "s": "here"}
THERE: dict[str, Scalar] = {"b": False, "f": 2.0, "i": 7, "s": "there"}


def _post(client: httpx.Client, path: str, body: Any, status: int) -> Any:
    response = client.post(f"/location/{path}", json=body)
    assert response.status_code == status, response.text
    return response.json()


def _locations(admin: httpx.Client, schema: str = "all", **filters: Any) -> Any:
    body = {"schema_name": schema, "coordinates": filters or None}
    return _post(admin, "list-locations", body, 200)


def _state(admin: httpx.Client) -> dict[str, Any]:
    """Everything the read endpoints show, to check that a failed request changed nothing."""
    schemas = admin.get("/location/list-location-schemas").json()
    return {
        "schemas": schemas,
        "identifiers": admin.get("/location/list-location-identifiers").json(),
        "locations": {s["name"]: _locations(admin, s["name"]) for s in schemas},
    }


def _type_error(field: str, key: str | int, msg: str, value: Any) -> dict[str, Any]:
    loc = ["body", field, key]
    return {"detail": [{"type": "value_error", "loc": loc, "msg": msg, "input": value}]}


@pytest.fixture
def with_two(admin: httpx.Client) -> httpx.Client:
    """Schema `all` with locations HERE (id 1) and THERE (id 2)."""
    _post(admin, "insert-location-schema", ALL, 201)
    for coordinates in [HERE, THERE]:
        body = {"schema_name": "all", "coordinates": coordinates}
        _post(admin, "insert-location-for-schema", body, 201)
    return admin


# -------------------------------------------------------- L3 insert-location-for-schema


def test_insert_location_for_schema(admin: httpx.Client) -> None:
    _post(admin, "insert-location-schema", ALL, 201)

    body = {"schema_name": "all", "coordinates": {"s": "x", "f": 3, "i": -2, "b": False}}
    assert _post(admin, "insert-location-for-schema", body, 201) == {"detail": "Location inserted"}

    # Native JSON types; 3 is a fine float, stored 3.0; keys in alphabetical order.
    [location] = _locations(admin)
    assert location == {"id": 1, "b": False, "f": 3.0, "i": -2, "s": "x"}
    assert list(location) == ["id", "b", "f", "i", "s"]


def test_insert_location_for_unknown_schema_is_400(admin: httpx.Client) -> None:
    # The schema is checked before the coordinates are looked at.
    body = {"schema_name": "nope", "coordinates": {"anything": "x"}}

    assert _post(admin, "insert-location-for-schema", body, 400) == {
        "detail": "Location schema does not exist"
    }


def test_insert_same_location_twice_is_409_and_changes_nothing(with_two: httpx.Client) -> None:
    before = _state(with_two)

    body = {"schema_name": "all", "coordinates": {**HERE, "f": 1.5}}
    assert _post(with_two, "insert-location-for-schema", body, 409) == {
        "detail": "Location exists already"
    }

    assert _state(with_two) == before


@pytest.mark.parametrize(
    ("coordinates", "problem"),
    [
        ({"f": 1.0, "i": 1, "s": "x"}, "missing 'b'"),
        ({"f": 1.0, "s": "x"}, "missing 'b', 'i'"),
        ({**HERE, "z": 1}, "unknown 'z'"),
        ({"f": 1.0, "i": 1, "s": "x", "z": 1}, "missing 'b'; unknown 'z'"),
        ({}, "missing 'b', 'f', 'i', 's'"),
    ],
)
def test_insert_location_needs_exactly_the_identifiers(
    with_two: httpx.Client, coordinates: dict[str, Any], problem: str
) -> None:
    before = _state(with_two)

    body = {"schema_name": "all", "coordinates": coordinates}
    assert _post(with_two, "insert-location-for-schema", body, 400) == {
        "detail": "coordinates must have exactly the identifiers of location schema 'all'"
        f" ('b', 'f', 'i', 's'): {problem}"
    }

    assert _state(with_two) == before


TYPE_MISMATCHES = [
    ("f", "1.5", "f: expected a float value, got string '1.5'"),
    ("f", True, "f: expected a float value, got boolean True"),
    ("i", 1.0, "i: expected an integer value, got float 1.0"),
    ("i", True, "i: expected an integer value, got boolean True"),
    ("i", 2**63, "i: integers must fit in 64 bits"),
    ("b", 1, "b: expected a boolean value, got integer 1"),
    ("s", 5, "s: expected a string value, got integer 5"),
]


@pytest.mark.parametrize(("key", "value", "msg"), TYPE_MISMATCHES)
def test_insert_location_with_a_wrong_type_is_422(
    with_two: httpx.Client, key: str, value: Any, msg: str
) -> None:
    before = _state(with_two)

    body = {"schema_name": "all", "coordinates": {**HERE, "s": "new", key: value}}
    response = _post(with_two, "insert-location-for-schema", body, 422)

    assert response == _type_error("coordinates", key, msg, value)
    assert _state(with_two) == before


def test_text_with_nul_and_infinite_numbers_are_422(with_two: httpx.Client) -> None:
    """PostgreSQL cannot store NUL in text; JSON cannot carry infinity back."""
    before = _state(with_two)
    nul = {"schema_name": "all", "coordinates": {**HERE, "s": "a\x00b"}}
    huge = b'{"schema_name": "all", "coordinates": {"b": true, "f": 1e400, "i": 1, "s": "x"}}'

    response = with_two.post(
        "/location/insert-location-for-schema",
        content=huge,
        headers={"content-type": "application/json"},
    )

    assert _post(with_two, "insert-location-for-schema", nul, 422) == _type_error(
        "coordinates", "s", "s: strings cannot contain NUL characters", "a\x00b"
    )
    assert response.status_code == 422
    assert response.json() == _type_error("coordinates", "f", "f: floats must be finite", "inf")
    assert _state(with_two) == before


def test_null_coordinate_is_422(with_two: httpx.Client) -> None:
    body = {"schema_name": "all", "coordinates": {**HERE, "s": None}}

    detail = _post(with_two, "insert-location-for-schema", body, 422)["detail"]

    assert {tuple(error["loc"][:3]) for error in detail} == {("body", "coordinates", "s")}


def test_schema_without_identifiers_holds_one_location(admin: httpx.Client) -> None:
    _post(
        admin, "insert-location-schema", {"name": "e", "description": None, "identifiers": []}, 201
    )
    body = {"schema_name": "e", "coordinates": {}}

    _post(admin, "insert-location-for-schema", body, 201)
    _post(admin, "insert-location-for-schema", body, 409)

    assert _locations(admin, "e") == [{"id": 1}]


# -------------------------------------------------------------- L2 insert-location


def test_insert_location_creates_its_schema(admin: httpx.Client) -> None:
    zeta = {"name": "zeta", "units": None, "datatype": "string"}
    alpha = {"name": "alpha", "units": "m", "datatype": "float"}

    body = {"identifiers": [zeta, alpha], "values": ["z", 1.5]}
    assert _post(admin, "insert-location", body, 201) == {"schema_name": "alpha-zeta"}

    assert admin.get("/location/list-location-schemas").json() == [
        {"name": "alpha-zeta", "description": "alpha-zeta", "identifiers": [alpha, zeta]}
    ]
    assert _locations(admin, "alpha-zeta") == [{"id": 1, "alpha": 1.5, "zeta": "z"}]


def test_insert_location_reuses_its_schema(admin: httpx.Client) -> None:
    """Decision 4: every location of an identifier set can go through insert-location."""
    body = {"identifiers": [F, I], "values": [1.5, 1]}
    _post(admin, "insert-location", body, 201)

    assert _post(admin, "insert-location", {**body, "values": [2, 2]}, 201) == {
        "schema_name": "f-i"
    }
    assert _locations(admin, "f-i") == [{"id": 1, "f": 1.5, "i": 1}, {"id": 2, "f": 2.0, "i": 2}]

    # The same location again is still a 409, with DTBase's message.
    before = _state(admin)
    assert _post(admin, "insert-location", body, 409) == {
        "detail": "Location or schema exists already"
    }
    assert _state(admin) == before


def test_insert_location_into_a_schema_with_other_identifiers_is_409(
    admin: httpx.Client,
) -> None:
    body = {"name": "f-i", "description": None, "identifiers": [{**F, "units": "km"}, I]}
    _post(admin, "insert-location-schema", body, 201)
    before = _state(admin)

    assert _post(admin, "insert-location", {"identifiers": [F, I], "values": [1.5, 1]}, 409) == {
        "detail": "Location schema 'f-i' exists with other identifiers: f (km), i;"
        " you gave f (m), i"
    }
    assert _state(admin) == before


@pytest.mark.parametrize(("values", "count"), [([1.5], 1), ([1.5, 1, 2], 3), ([], 0)])
def test_insert_location_with_unequal_lists_is_422(
    admin: httpx.Client, values: list[Any], count: int
) -> None:
    response = _post(admin, "insert-location", {"identifiers": [F, I], "values": values}, 422)

    assert response == {
        "detail": [
            {
                "type": "value_error",
                "loc": ["body", "values"],
                "msg": f"values has {count} entries but identifiers has 2;"
                " values[i] is the coordinate of identifiers[i]",
                "input": values,
            }
        ]
    }
    assert _state(admin) == {"schemas": [], "identifiers": [], "locations": {}}


@pytest.mark.parametrize(("key", "value", "msg"), TYPE_MISMATCHES)
def test_insert_location_with_a_wrong_type_names_the_index(
    admin: httpx.Client, key: str, value: Any, msg: str
) -> None:
    values = {**HERE, key: value}
    identifiers = [I, F, S, B]
    body = {"identifiers": identifiers, "values": [values[i["name"]] for i in identifiers]}

    response = _post(admin, "insert-location", body, 422)

    index = [i["name"] for i in identifiers].index(key)
    assert response == _type_error("values", index, msg, value)
    assert _state(admin) == {"schemas": [], "identifiers": [], "locations": {}}


def test_insert_location_with_duplicate_identifier_names_is_422(admin: httpx.Client) -> None:
    body = {"identifiers": [F, I, {**F, "units": None}], "values": [1.0, 1, 2.0]}

    detail = _post(admin, "insert-location", body, 422)["detail"]

    assert [error["loc"] for error in detail] == [["body", "identifiers", 2, "name"]]
    assert _state(admin) == {"schemas": [], "identifiers": [], "locations": {}}


def test_insert_location_with_a_bad_datatype_is_422(admin: httpx.Client) -> None:
    body = {"identifiers": [{**F, "datatype": "double"}], "values": [1.0]}

    detail = _post(admin, "insert-location", body, 422)["detail"]

    assert [error["loc"] for error in detail] == [["body", "identifiers", 0, "datatype"]]


# ---------------------------------------------------------------- L7 list-locations


def test_list_locations_by_id(with_two: httpx.Client) -> None:
    assert _locations(with_two) == [{"id": 1, **HERE}, {"id": 2, **THERE}]
    assert _post(with_two, "list-locations", {"schema_name": "all"}, 200) == _locations(with_two)


def test_list_locations_filters_on_any_subset(with_two: httpx.Client) -> None:
    assert _locations(with_two, i=7) == [{"id": 1, **HERE}, {"id": 2, **THERE}]
    assert _locations(with_two, s="there") == [{"id": 2, **THERE}]
    assert _locations(with_two, b=True, f=1.5) == [{"id": 1, **HERE}]
    assert _locations(with_two, f=2) == [{"id": 2, **THERE}]
    assert _locations(with_two, b=True, s="there") == []


def test_list_locations_only_of_the_schema(with_two: httpx.Client) -> None:
    _post(with_two, "insert-location", {"identifiers": [F], "values": [9.0]}, 201)

    assert _locations(with_two, "f") == [{"id": 3, "f": 9.0}]
    assert [location["id"] for location in _locations(with_two)] == [1, 2]


def test_list_locations_of_an_empty_schema(admin: httpx.Client) -> None:
    _post(admin, "insert-location-schema", ALL, 201)

    assert _locations(admin) == []


def test_list_locations_of_unknown_schema_is_an_empty_list(with_two: httpx.Client) -> None:
    """Decision 4: 200 and a list, as DTBase's own test expects; but empty, not every
    location in the database as DTBase answered. Filters on no schema match nothing."""
    assert _post(with_two, "list-locations", {"schema_name": "nope"}, 200) == []
    body = {"schema_name": "nope", "coordinates": {"f": 1.5}}
    assert _post(with_two, "list-locations", body, 200) == []
    not_a_value = {"schema_name": "nope", "coordinates": {"f": [1.5]}}
    assert _post(with_two, "list-locations", not_a_value, 422)["detail"][0]["loc"][:3] == [
        "body",
        "coordinates",
        "f",
    ]


def test_list_locations_with_an_unknown_filter_key_is_400(with_two: httpx.Client) -> None:
    body = {"schema_name": "all", "coordinates": {"f": 1.5, "z": 1, "q": 2}}

    assert _post(with_two, "list-locations", body, 400) == {
        "detail": "'z', 'q' are not identifiers of location schema 'all';"
        " its identifiers are: 'b', 'f', 'i', 's'"
    }


def test_list_locations_with_a_wrong_type_is_422(with_two: httpx.Client) -> None:
    body = {"schema_name": "all", "coordinates": {"b": 1}}

    assert _post(with_two, "list-locations", body, 422) == _type_error(
        "coordinates", "b", "b: expected a boolean value, got integer 1", 1
    )


def test_identifier_called_id_does_not_hide_the_location_id(admin: httpx.Client) -> None:
    _post(admin, "insert-location", {"identifiers": [{**S, "name": "id"}], "values": ["A1"]}, 201)

    assert _locations(admin, "id") == [{"id": 1}]


# --------------------------------------------------------------- L9 delete-location


def test_delete_location(with_two: httpx.Client) -> None:
    body = {"schema_name": "all", "coordinates": {**HERE, "f": 1.5}}

    assert _post(with_two, "delete-location", body, 200) == {"detail": "Location deleted"}

    assert _locations(with_two) == [{"id": 2, **THERE}]
    # Its coordinates went with it: the same location can be inserted again.
    _post(with_two, "insert-location-for-schema", body, 201)
    assert [location["id"] for location in _locations(with_two)] == [2, 3]


def test_delete_location_not_found_is_400(with_two: httpx.Client) -> None:
    before = _state(with_two)

    body = {"schema_name": "all", "coordinates": {**HERE, "s": "elsewhere"}}
    assert _post(with_two, "delete-location", body, 400) == {"detail": "Location not found"}

    assert _state(with_two) == before


def test_delete_location_of_unknown_schema_is_400(with_two: httpx.Client) -> None:
    body = {"schema_name": "nope", "coordinates": HERE}

    assert _post(with_two, "delete-location", body, 400) == {
        "detail": "Location schema does not exist"
    }


def test_delete_location_needs_all_coordinates(with_two: httpx.Client) -> None:
    before = _state(with_two)

    body = {"schema_name": "all", "coordinates": {"s": "here"}}
    assert _post(with_two, "delete-location", body, 400) == {
        "detail": "coordinates must have exactly the identifiers of location schema 'all'"
        " ('b', 'f', 'i', 's'): missing 'b', 'f', 'i'"
    }

    assert _state(with_two) == before


def test_delete_location_with_a_wrong_type_is_422(with_two: httpx.Client) -> None:
    before = _state(with_two)

    body = {"schema_name": "all", "coordinates": {**HERE, "i": "7"}}
    assert _post(with_two, "delete-location", body, 422) == _type_error(
        "coordinates", "i", "i: expected an integer value, got string '7'", "7"
    )

    assert _state(with_two) == before


def test_delete_location_with_a_sensor_installed_is_409(
    with_two: httpx.Client, engine: Engine
) -> None:
    with make_session_factory(engine).begin() as session:
        sensor_type = SensorType(name="thermometer")
        session.add(sensor_type)
        session.flush()
        sensor = Sensor(type_id=sensor_type.id, unique_identifier="t1")
        session.add(sensor)
        session.flush()
        for day in [1, 2]:
            when = datetime(2026, 1, day, tzinfo=UTC)
            session.add(
                SensorLocation(sensor_id=sensor.id, location_id=2, installation_datetime=when)
            )
    before = _state(with_two)

    body = {"schema_name": "all", "coordinates": THERE}
    assert _post(with_two, "delete-location", body, 409) == {
        "detail": "Location 2 is used by 2 sensor installations;"
        " delete those sensors or their installations first."
    }

    assert _state(with_two) == before
    # The location without sensors can go.
    _post(with_two, "delete-location", {"schema_name": "all", "coordinates": HERE}, 200)


# --------------------------------------------------------------------- edit-location


def test_edit_location_keeps_its_id(with_two: httpx.Client) -> None:
    moved = {"b": False, "f": 3, "i": -1, "s": "moved"}
    body = {"schema_name": "all", "coordinates": HERE, "new_coordinates": moved}

    assert _post(with_two, "edit-location", body, 200) == {"detail": "Location updated"}

    assert _locations(with_two) == [{"id": 1, **moved, "f": 3.0}, {"id": 2, **THERE}]


def test_edit_location_to_its_own_coordinates(with_two: httpx.Client) -> None:
    before = _state(with_two)
    body = {"schema_name": "all", "coordinates": HERE, "new_coordinates": HERE}

    _post(with_two, "edit-location", body, 200)

    assert _state(with_two) == before


def test_edit_location_onto_another_is_409_and_changes_nothing(with_two: httpx.Client) -> None:
    before = _state(with_two)

    body = {"schema_name": "all", "coordinates": HERE, "new_coordinates": THERE}
    assert _post(with_two, "edit-location", body, 409) == {"detail": "Location exists already"}

    assert _state(with_two) == before


@pytest.mark.parametrize(
    ("schema", "coordinates", "new_coordinates", "detail"),
    [
        ("nope", HERE, THERE, "Location schema does not exist"),
        ("all", {**HERE, "i": 8}, {**HERE, "i": 9}, "Location not found"),
        (
            "all",
            {**HERE, "z": 1},
            HERE,
            "coordinates must have exactly the identifiers of location schema 'all'"
            " ('b', 'f', 'i', 's'): unknown 'z'",
        ),
        (
            "all",
            HERE,
            {"f": 1.0},
            "new_coordinates must have exactly the identifiers of location schema 'all'"
            " ('b', 'f', 'i', 's'): missing 'b', 'i', 's'",
        ),
    ],
)
def test_edit_location_bad_reference_is_400(
    with_two: httpx.Client,
    schema: str,
    coordinates: dict[str, Any],
    new_coordinates: dict[str, Any],
    detail: str,
) -> None:
    before = _state(with_two)
    body = {"schema_name": schema, "coordinates": coordinates, "new_coordinates": new_coordinates}

    assert _post(with_two, "edit-location", body, 400) == {"detail": detail}

    assert _state(with_two) == before


@pytest.mark.parametrize("field", ["coordinates", "new_coordinates"])
def test_edit_location_with_a_wrong_type_is_422(with_two: httpx.Client, field: str) -> None:
    before = _state(with_two)
    body = {"schema_name": "all", "coordinates": HERE, "new_coordinates": {**HERE, "s": "new"}}
    body[field] = {**HERE, "f": "1.5"}

    assert _post(with_two, "edit-location", body, 422) == _type_error(
        field, "f", "f: expected a float value, got string '1.5'", "1.5"
    )

    assert _state(with_two) == before


# ------------------------------------------- store functions used by the sensors domain


def test_match_location_ids_and_coordinates_of(with_two: httpx.Client, engine: Engine) -> None:
    with make_session_factory(engine)() as session:
        assert store.match_location_ids(session, schema_name="all", coordinates={}) == [1, 2]
        assert store.match_location_ids(session, schema_name="all", coordinates={"i": 7}) == [
            1,
            2,
        ]
        assert store.match_location_ids(
            session, schema_name="all", coordinates={"f": 2, "s": "there"}
        ) == [2]
        assert (
            store.match_location_ids(session, schema_name="all", coordinates=THERE | {"b": True})
            == []
        )

        coordinates = store.coordinates_of(session, location_ids=[2, 1, 99])
        assert coordinates == {2: THERE, 1: HERE, 99: {}}
        assert list(coordinates[1]) == ["b", "f", "i", "s"]
        assert store.coordinates_of(session, location_ids=[]) == {}


def test_match_location_ids_errors(with_two: httpx.Client, engine: Engine) -> None:
    with make_session_factory(engine)() as session:
        with pytest.raises(InvalidInput, match=r"^Location schema does not exist$"):
            store.match_location_ids(session, schema_name="nope", coordinates={})
        with pytest.raises(InvalidInput) as unknown:
            store.match_location_ids(session, schema_name="all", coordinates={"z": 1})
        with pytest.raises(Unprocessable) as wrong_type:
            store.match_location_ids(session, schema_name="all", coordinates={"i": 1.5})

    assert unknown.value.detail == (
        "'z' is not an identifier of location schema 'all'; its identifiers are: 'b', 'f', 'i', 's'"
    )
    assert wrong_type.value.errors == [
        {
            "type": "value_error",
            "loc": ["body", "coordinates", "i"],
            "msg": "i: expected an integer value, got float 1.5",
            "input": 1.5,
        }
    ]
