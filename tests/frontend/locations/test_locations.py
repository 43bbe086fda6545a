"""The locations area: schemas and their locations, created, listed, edited and deleted."""

from __future__ import annotations

import json

import pytest

from dtbase.client import Client
from dtbase.schemas.locations import LocationIdentifier
from dtbase.schemas.users import Role
from dtbase.schemas.values import ValueDatatype
from tests.utils.visitors import Visitor, VisitorFactory, text_of

PAGE = "/locations/index"
ROOM = [
    LocationIdentifier(name="building", units=None, datatype=ValueDatatype.string),
    LocationIdentifier(name="floor", units=None, datatype=ValueDatatype.integer),
]


@pytest.fixture
def rooms(client: Client) -> Client:
    client.locations.insert_location_schema("rooms", "Rooms of the site", ROOM)
    client.locations.insert_location_for_schema("rooms", {"building": "Main", "floor": 1})
    return client


def _rows(client: Client, schema: str) -> list[dict[str, object]]:
    return [
        {k: v for k, v in row.items() if k != "id"}
        for row in client.locations.list_locations(schema)
    ]


def test_empty_page_invites_to_create_a_schema(admin_visitor: Visitor) -> None:
    page = admin_visitor.get(PAGE)

    assert page.status_code == 200
    assert 'data-testid="no-schemas"' in page.text
    assert "Create a location schema" in page.text


def test_page_lists_schemas_and_the_chosen_schemas_locations(
    admin_visitor: Visitor, rooms: Client
) -> None:
    rooms.locations.insert_location_schema(
        "points",
        None,
        [LocationIdentifier(name="x", units="m", datatype=ValueDatatype.float)],
    )

    first = admin_visitor.get(PAGE)  # the first schema, by default
    chosen = admin_visitor.get(f"{PAGE}?schema=points")

    assert 'data-testid="schema-rooms"' in first.text
    assert "Rooms of the site" in first.text
    assert 'value="Main"' in first.text
    assert json.dumps({"building": "Main", "floor": 1}, sort_keys=True) in text_of(first)
    assert 'data-testid="schema-points"' in chosen.text
    assert "No locations in this schema yet." in chosen.text
    assert 'href="/locations/index?schema=rooms"' in chosen.text


def test_unknown_schema_is_a_404_with_a_reason(admin_visitor: Visitor, rooms: Client) -> None:
    page = admin_visitor.get(f"{PAGE}?schema=nowhere")

    assert page.status_code == 404
    assert "There is no location schema 'nowhere'." in text_of(page)


def test_create_schema(admin_visitor: Visitor, client: Client) -> None:
    response = admin_visitor.submit(
        PAGE,
        "/locations/create-schema",
        {
            "name": "geo",
            "description": "Latitude and longitude",
            "identifiers": "latitude, degrees, float\nlongitude, degrees, float\n",
        },
    )

    assert "Location schema geo created." in text_of(response)
    assert response.request.args["schema"] == "geo"
    schema = client.locations.get_schema_details("geo")
    assert schema.description == "Latitude and longitude"
    assert [(i.name, i.units, i.datatype) for i in schema.identifiers] == [
        ("latitude", "degrees", ValueDatatype.float),
        ("longitude", "degrees", ValueDatatype.float),
    ]


@pytest.mark.parametrize(
    ("identifiers", "message"),
    [
        ("latitude, degrees", "write 'name, units, datatype'"),
        ("latitude, degrees, decimal", "datatype must be one of string, float, integer, boolean"),
        ("a, , float\na, , float", "'a' is listed twice"),
        ("", "Identifiers: This field is required."),
    ],
)
def test_invalid_schema_is_refused_with_a_reason(
    admin_visitor: Visitor, client: Client, identifiers: str, message: str
) -> None:
    response = admin_visitor.submit(
        PAGE, "/locations/create-schema", {"name": "bad", "identifiers": identifiers}
    )

    assert response.status_code == 422
    assert message in text_of(response)
    assert client.locations.list_location_schemas() == []


def test_existing_schema_flashes_the_backend_answer(admin_visitor: Visitor, rooms: Client) -> None:
    response = admin_visitor.submit(
        PAGE, "/locations/create-schema", {"name": "rooms", "identifiers": "x, , float"}
    )

    assert 'class="flash flash-error"' in response.text
    assert "LocationSchema exists already" in text_of(response)
    assert [s.name for s in rooms.locations.list_location_schemas()] == ["rooms"]


def test_add_location(admin_visitor: Visitor, rooms: Client) -> None:
    response = admin_visitor.submit(
        f"{PAGE}?schema=rooms",
        "/locations/create",
        {"schema": "rooms", "value:building": "Annex", "value:floor": "0"},
    )

    assert "Location (building=Annex, floor=0) added to rooms." in text_of(response)
    assert {"building": "Annex", "floor": 0} in _rows(rooms, "rooms")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"value:building": "Annex", "value:floor": "first"},
            "floor: 'first' is not a whole number.",
        ),
        ({"value:building": "", "value:floor": "1"}, "building: enter a value."),
    ],
)
def test_invalid_location_is_refused_with_a_reason(
    admin_visitor: Visitor, rooms: Client, data: dict[str, str], message: str
) -> None:
    response = admin_visitor.submit(
        f"{PAGE}?schema=rooms", "/locations/create", {"schema": "rooms", **data}
    )

    assert message in text_of(response)
    assert _rows(rooms, "rooms") == [{"building": "Main", "floor": 1}]


def test_duplicate_location_flashes_the_backend_answer(
    admin_visitor: Visitor, rooms: Client
) -> None:
    response = admin_visitor.submit(
        f"{PAGE}?schema=rooms",
        "/locations/create",
        {"schema": "rooms", "value:building": "Main", "value:floor": "1"},
    )

    assert 'class="flash flash-error"' in response.text
    assert response.status_code == 409
    # The schema's page again, its add form holding what was typed.
    assert 'data-testid="schema-rooms"' in response.text
    assert 'value="Main"' in response.text.split('data-testid="add-location"')[1]
    assert _rows(rooms, "rooms") == [{"building": "Main", "floor": 1}]


def test_edit_location(admin_visitor: Visitor, rooms: Client) -> None:
    response = admin_visitor.submit(
        f"{PAGE}?schema=rooms",
        "/locations/edit",
        {
            "schema": "rooms",
            "coordinates": json.dumps({"building": "Main", "floor": 1}),
            "value:building": "Main",
            "value:floor": "3",
        },
    )

    assert "is now (building=Main, floor=3)." in text_of(response)
    assert _rows(rooms, "rooms") == [{"building": "Main", "floor": 3}]


def test_editing_a_missing_location_flashes_the_backend_answer(
    admin_visitor: Visitor, rooms: Client
) -> None:
    response = admin_visitor.submit(
        f"{PAGE}?schema=rooms",
        "/locations/edit",
        {
            "schema": "rooms",
            "coordinates": json.dumps({"building": "Gone", "floor": 9}),
            "value:building": "Main",
            "value:floor": "3",
        },
    )

    assert response.status_code == 400  # DTBase's status for a location that is not there
    assert 'class="flash flash-error"' in response.text
    assert _rows(rooms, "rooms") == [{"building": "Main", "floor": 1}]


def test_delete_location_and_then_the_schema(admin_visitor: Visitor, rooms: Client) -> None:
    refused = admin_visitor.submit(
        f"{PAGE}?schema=rooms", "/locations/delete-schema", {"schema": "rooms"}
    )
    assert 'class="flash flash-error"' in refused.text  # it still has a location
    assert [s.name for s in rooms.locations.list_location_schemas()] == ["rooms"]

    response = admin_visitor.submit(
        f"{PAGE}?schema=rooms",
        "/locations/delete",
        {"schema": "rooms", "coordinates": json.dumps({"building": "Main", "floor": 1})},
    )
    assert "Location (building=Main, floor=1) deleted." in text_of(response)
    assert _rows(rooms, "rooms") == []

    response = admin_visitor.submit(
        f"{PAGE}?schema=rooms", "/locations/delete-schema", {"schema": "rooms"}
    )
    assert "Location schema rooms deleted." in text_of(response)
    assert rooms.locations.list_location_schemas() == []


def test_garbled_coordinates_are_refused(admin_visitor: Visitor, rooms: Client) -> None:
    response = admin_visitor.submit(
        f"{PAGE}?schema=rooms", "/locations/delete", {"schema": "rooms", "coordinates": "{oops"}
    )

    assert "The location's coordinates are not valid JSON." in text_of(response)
    assert len(_rows(rooms, "rooms")) == 1


def test_viewer_is_refused_by_the_backend(visitor_factory: VisitorFactory, rooms: Client) -> None:
    viewer = visitor_factory(Role.viewer)

    response = viewer.submit(
        f"{PAGE}?schema=rooms",
        "/locations/create",
        {"schema": "rooms", "value:building": "Annex", "value:floor": "0"},
    )

    assert response.status_code == 403
    assert "This action needs" in text_of(response)
    assert len(_rows(rooms, "rooms")) == 1


def test_post_without_csrf_token_is_refused(admin_visitor: Visitor, rooms: Client) -> None:
    response = admin_visitor.client.post(
        "/locations/create", data={"schema": "rooms", "value:building": "X", "value:floor": "5"}
    )

    assert response.status_code == 400
    assert len(_rows(rooms, "rooms")) == 1
