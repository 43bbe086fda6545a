"""Location schemas and identifiers: L1, L4, L5, L6, L8 and edit-location-schema."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory

X = {"name": "x", "units": "m", "datatype": "float"}
Y = {"name": "y", "units": None, "datatype": "integer"}
XY = {"name": "xy", "description": "a plane", "identifiers": [Y, X]}


def _post(client: httpx.Client, path: str, body: Any, status: int) -> Any:
    response = client.post(f"/location/{path}", json=body)
    assert response.status_code == status, response.text
    return response.json()


def _state(admin: httpx.Client) -> dict[str, Any]:
    """Everything the read endpoints show, to check that a failed request changed nothing."""
    schemas = admin.get("/location/list-location-schemas").json()
    return {
        "schemas": schemas,
        "identifiers": admin.get("/location/list-location-identifiers").json(),
        "locations": {
            s["name"]: _post(admin, "list-locations", {"schema_name": s["name"]}, 200)
            for s in schemas
        },
    }


def _schema_names(admin: httpx.Client) -> list[str]:
    return [s["name"] for s in admin.get("/location/list-location-schemas").json()]


# ------------------------------------------------------------ L1 insert-location-schema


def test_insert_schema_lists_identifiers_alphabetically(admin: httpx.Client) -> None:
    assert _post(admin, "insert-location-schema", XY, 201) == {"detail": "Location schema inserted"}

    assert admin.get("/location/list-location-schemas").json() == [
        {"name": "xy", "description": "a plane", "identifiers": [X, Y]}
    ]
    # Identifiers are created in request order, listed by id.
    assert admin.get("/location/list-location-identifiers").json() == [Y, X]


def test_insert_schema_reuses_identifiers_by_name_and_units(admin: httpx.Client) -> None:
    _post(admin, "insert-location-schema", XY, 201)
    other_x = {"name": "x", "units": "km", "datatype": "float"}
    y_as_string = {"name": "y", "units": None, "datatype": "string"}
    body = {"name": "second", "description": None, "identifiers": [other_x, y_as_string]}

    _post(admin, "insert-location-schema", body, 201)

    # (y, null) exists already (NULL units are equal): reused, its datatype kept.
    assert admin.get("/location/list-location-identifiers").json() == [Y, X, other_x]
    assert _post(admin, "get-schema-details", {"schema_name": "second"}, 200) == {
        "name": "second",
        "description": None,
        "identifiers": [other_x, Y],
    }


def test_duplicate_schema_is_409_and_changes_nothing(admin: httpx.Client) -> None:
    _post(admin, "insert-location-schema", XY, 201)
    before = _state(admin)
    z = {"name": "z", "units": None, "datatype": "string"}

    body = {**XY, "description": "other", "identifiers": [z]}
    assert _post(admin, "insert-location-schema", body, 409) == {
        "detail": "LocationSchema exists already"
    }

    assert _state(admin) == before


def test_two_identifiers_with_one_name_are_422(admin: httpx.Client) -> None:
    other_x = {"name": "x", "units": "km", "datatype": "float"}
    body = {"name": "s", "description": None, "identifiers": [X, Y, other_x]}

    detail = _post(admin, "insert-location-schema", body, 422)["detail"]

    assert detail == [
        {
            "type": "value_error",
            "loc": ["body", "identifiers", 2, "name"],
            "msg": "identifier name 'x' is also used at index 0;"
            " a schema's identifier names must be distinct",
            "input": "x",
        }
    ]
    assert _state(admin) == {"schemas": [], "identifiers": [], "locations": {}}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": "s", "identifiers": [X]}, ["body", "description"]),
        (
            {"name": "s", "description": None, "identifiers": [{"name": "x", "datatype": "float"}]},
            ["body", "identifiers", 0, "units"],
        ),
        (
            {"name": "s", "description": None, "identifiers": [{**X, "datatype": "complex"}]},
            ["body", "identifiers", 0, "datatype"],
        ),
        ({"name": "s" * 101, "description": None, "identifiers": [X]}, ["body", "name"]),
        ({"name": 3, "description": None, "identifiers": [X]}, ["body", "name"]),
        ({"name": "s", "description": None}, ["body", "identifiers"]),
        ({"name": "a\x00", "description": None, "identifiers": [X]}, ["body", "name"]),
        (
            {"name": "s", "description": None, "identifiers": [{**X, "units": "\x00"}]},
            ["body", "identifiers", 0, "units"],
        ),
    ],
)
def test_invalid_schema_body_is_422(admin: httpx.Client, body: Any, loc: list[Any]) -> None:
    detail = _post(admin, "insert-location-schema", body, 422)["detail"]

    assert [error["loc"] for error in detail] == [loc]
    assert _state(admin) == {"schemas": [], "identifiers": [], "locations": {}}


def test_schema_without_identifiers_is_accepted_but_not_listed(admin: httpx.Client) -> None:
    body: dict[str, Any] = {"name": "empty", "description": None, "identifiers": []}

    _post(admin, "insert-location-schema", body, 201)

    assert admin.get("/location/list-location-schemas").json() == []
    assert _post(admin, "get-schema-details", {"schema_name": "empty"}, 200) == body


def test_unknown_keys_are_ignored(admin: httpx.Client) -> None:
    _post(admin, "insert-location-schema", {**XY, "colour": "blue"}, 201)

    assert _schema_names(admin) == ["xy"]


# ------------------------------------------------------ L4, L5 lists; L6 schema details


def test_lists_start_empty(admin: httpx.Client) -> None:
    assert admin.get("/location/list-location-schemas").json() == []
    assert admin.get("/location/list-location-identifiers").json() == []


def test_schemas_are_listed_by_id(admin: httpx.Client) -> None:
    for name in ["b", "a", "c"]:
        _post(admin, "insert-location-schema", {**XY, "name": name}, 201)

    assert _schema_names(admin) == ["b", "a", "c"]


def test_get_schema_details(admin: httpx.Client) -> None:
    _post(admin, "insert-location-schema", XY, 201)

    assert _post(admin, "get-schema-details", {"schema_name": "xy"}, 200) == {
        "name": "xy",
        "description": "a plane",
        "identifiers": [X, Y],
    }


def test_get_details_of_unknown_schema_is_400(admin: httpx.Client) -> None:
    assert _post(admin, "get-schema-details", {"schema_name": "nope"}, 400) == {
        "detail": "No such schema"
    }


# ------------------------------------------------------------ L8 delete-location-schema


def test_delete_schema_keeps_its_identifiers(admin: httpx.Client) -> None:
    _post(admin, "insert-location-schema", XY, 201)

    assert _post(admin, "delete-location-schema", {"schema_name": "xy"}, 200) == {
        "detail": "Location schema 'xy' has been deleted."
    }

    assert _schema_names(admin) == []
    assert admin.get("/location/list-location-identifiers").json() == [Y, X]
    # The name is free again.
    _post(admin, "insert-location-schema", XY, 201)


def test_delete_unknown_schema_is_400(admin: httpx.Client) -> None:
    assert _post(admin, "delete-location-schema", {"schema_name": "nope"}, 400) == {
        "detail": "Location schema 'nope' not found."
    }


def test_delete_schema_with_locations_is_409_and_changes_nothing(admin: httpx.Client) -> None:
    _post(admin, "insert-location-schema", XY, 201)
    for x in [1.5, 2.5]:
        body = {"schema_name": "xy", "coordinates": {"x": x, "y": 1}}
        _post(admin, "insert-location-for-schema", body, 201)
    before = _state(admin)

    assert _post(admin, "delete-location-schema", {"schema_name": "xy"}, 409) == {
        "detail": "Location schema 'xy' still has 2 locations; delete them first."
    }

    assert _state(admin) == before


# -------------------------------------------------------------- edit-location-schema


def test_edit_schema_renames_and_describes(admin: httpx.Client) -> None:
    _post(admin, "insert-location-schema", XY, 201)
    _post(
        admin,
        "insert-location-for-schema",
        {"schema_name": "xy", "coordinates": {"x": 1.0, "y": 2}},
        201,
    )

    body = {"schema_name": "xy", "new_name": "plane", "description": "renamed"}
    assert _post(admin, "edit-location-schema", body, 200) == {
        "detail": "Location schema 'xy' has been updated."
    }

    assert admin.get("/location/list-location-schemas").json() == [
        {"name": "plane", "description": "renamed", "identifiers": [X, Y]}
    ]
    assert _post(admin, "list-locations", {"schema_name": "plane"}, 200) == [
        {"id": 1, "x": 1.0, "y": 2}
    ]


def test_edit_schema_description_only_when_given(admin: httpx.Client) -> None:
    _post(admin, "insert-location-schema", XY, 201)

    _post(admin, "edit-location-schema", {"schema_name": "xy"}, 200)
    assert _post(admin, "get-schema-details", {"schema_name": "xy"}, 200)["description"] == (
        "a plane"
    )
    _post(admin, "edit-location-schema", {"schema_name": "xy", "new_name": "xy"}, 200)
    assert _schema_names(admin) == ["xy"]

    _post(admin, "edit-location-schema", {"schema_name": "xy", "description": None}, 200)
    assert _post(admin, "get-schema-details", {"schema_name": "xy"}, 200)["description"] is None


def test_edit_unknown_schema_is_400(admin: httpx.Client) -> None:
    body = {"schema_name": "nope", "new_name": "other"}

    assert _post(admin, "edit-location-schema", body, 400) == {
        "detail": "Location schema does not exist"
    }
    assert _schema_names(admin) == []


def test_edit_schema_to_a_taken_name_is_409_and_changes_nothing(admin: httpx.Client) -> None:
    _post(admin, "insert-location-schema", XY, 201)
    _post(admin, "insert-location-schema", {**XY, "name": "other"}, 201)
    before = _state(admin)

    body = {"schema_name": "xy", "new_name": "other", "description": "changed"}
    assert _post(admin, "edit-location-schema", body, 409) == {
        "detail": "LocationSchema exists already"
    }

    assert _state(admin) == before


@pytest.mark.parametrize("new_name", ["", "n" * 101, 5])
def test_edit_schema_with_an_invalid_name_is_422(admin: httpx.Client, new_name: Any) -> None:
    _post(admin, "insert-location-schema", XY, 201)
    before = _state(admin)

    detail = _post(admin, "edit-location-schema", {"schema_name": "xy", "new_name": new_name}, 422)

    assert [error["loc"] for error in detail["detail"]] == [["body", "new_name"]]
    assert _state(admin) == before


# ---------------------------------------------------------------------------- roles


WRITES = [
    ("insert-location-schema", XY),
    ("insert-location", {"identifiers": [X], "values": [1.0]}),
    ("insert-location-for-schema", {"schema_name": "xy", "coordinates": {"x": 1.0, "y": 1}}),
    ("delete-location-schema", {"schema_name": "xy"}),
    ("delete-location", {"schema_name": "xy", "coordinates": {"x": 1.0, "y": 1}}),
    ("edit-location-schema", {"schema_name": "xy", "new_name": "yx"}),
    (
        "edit-location",
        {
            "schema_name": "xy",
            "coordinates": {"x": 1.0, "y": 1},
            "new_coordinates": {"x": 2.0, "y": 2},
        },
    ),
]


@pytest.mark.parametrize(("path", "body"), WRITES, ids=[path for path, _ in WRITES])
def test_viewers_cannot_write(
    admin: httpx.Client, user_factory: UserFactory, path: str, body: Any
) -> None:
    _post(admin, "insert-location-schema", XY, 201)
    _post(
        admin,
        "insert-location-for-schema",
        {"schema_name": "xy", "coordinates": {"x": 1.0, "y": 1}},
        201,
    )
    before = _state(admin)
    viewer = user_factory(Role.viewer)

    assert _post(viewer, path, body, 403) == {
        "detail": "This action needs the role 'user' (you are 'viewer')"
    }
    assert _state(admin) == before


def test_users_can_write_and_viewers_can_read(user_factory: UserFactory) -> None:
    user, viewer = user_factory(Role.user), user_factory(Role.viewer)

    _post(user, "insert-location-schema", XY, 201)
    _post(
        user,
        "insert-location-for-schema",
        {"schema_name": "xy", "coordinates": {"x": 1.0, "y": 1}},
        201,
    )

    assert viewer.get("/location/list-location-identifiers").json() == [Y, X]
    assert _post(viewer, "list-locations", {"schema_name": "xy"}, 200) == [
        {"id": 1, "x": 1.0, "y": 1}
    ]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "list-location-schemas"),
        ("GET", "list-location-identifiers"),
        ("POST", "get-schema-details"),
        ("POST", "list-locations"),
        ("POST", "insert-location-schema"),
        ("POST", "edit-location"),
    ],
)
def test_anonymous_requests_are_401(anonymous: httpx.Client, method: str, path: str) -> None:
    response = anonymous.request(method, f"/location/{path}")

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


def test_openapi_documents_every_location_operation(anonymous: httpx.Client) -> None:
    paths = anonymous.get("/openapi.json").json()["paths"]

    operations = {
        path.removeprefix("/location/"): {m: set(op["responses"]) for m, op in item.items()}
        for path, item in paths.items()
        if path.startswith("/location/")
    }

    assert operations == {
        "insert-location-schema": {"post": {"201", "401", "403", "409", "422"}},
        "insert-location": {"post": {"201", "401", "403", "409", "422"}},
        "insert-location-for-schema": {"post": {"201", "400", "401", "403", "409", "422"}},
        "list-location-schemas": {"get": {"200", "401", "403"}},
        "list-location-identifiers": {"get": {"200", "401", "403"}},
        "get-schema-details": {"post": {"200", "400", "401", "403", "422"}},
        "list-locations": {"post": {"200", "400", "401", "403", "422"}},
        "delete-location-schema": {"post": {"200", "400", "401", "403", "409", "422"}},
        "delete-location": {"post": {"200", "400", "401", "403", "409", "422"}},
        "edit-location-schema": {"post": {"200", "400", "401", "403", "409", "422"}},
        "edit-location": {"post": {"200", "400", "401", "403", "409", "422"}},
    }
    validation = paths["/location/edit-location"]["post"]["responses"]["422"]
    assert validation["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HTTPValidationError"
    }
