"""client.locations against the real backend: one call per endpoint, typed results."""

from __future__ import annotations

import pytest

from dtbase.client import ApiError, Client
from dtbase.schemas.common import Msg
from dtbase.schemas.locations import InsertLocationResponse, LocationIdentifier, LocationSchema
from dtbase.schemas.values import ValueDatatype

LAT = LocationIdentifier(name="lat", units="deg", datatype=ValueDatatype.float)
ROOM = LocationIdentifier(name="room", units=None, datatype=ValueDatatype.string)
FLOOR = LocationIdentifier(name="floor", units=None, datatype=ValueDatatype.integer)


def test_schemas_through_the_client(client: Client) -> None:
    locations = client.locations

    assert locations.insert_location_schema("site", "a site", [ROOM, LAT]) == Msg(
        detail="Location schema inserted"
    )
    site = LocationSchema(name="site", description="a site", identifiers=[LAT, ROOM])
    assert locations.list_location_schemas() == [site]
    assert locations.list_location_identifiers() == [ROOM, LAT]
    assert locations.get_schema_details("site") == site

    locations.edit_location_schema("site", new_name="place")
    locations.edit_location_schema("place", description="renamed")
    assert locations.get_schema_details("place").description == "renamed"
    locations.edit_location_schema("place", description=None)
    assert locations.get_schema_details("place").description is None

    assert locations.delete_location_schema("place") == Msg(
        detail="Location schema 'place' has been deleted."
    )
    assert locations.list_location_schemas() == []


def test_locations_through_the_client(client: Client) -> None:
    locations = client.locations

    assert locations.insert_location([ROOM, FLOOR], ["hall", 0]) == InsertLocationResponse(
        schema_name="floor-room"
    )
    locations.insert_location_for_schema("floor-room", {"room": "attic", "floor": 2})
    assert locations.list_locations("floor-room") == [
        {"id": 1, "floor": 0, "room": "hall"},
        {"id": 2, "floor": 2, "room": "attic"},
    ]
    assert locations.list_locations("floor-room", {"floor": 2}) == [
        {"id": 2, "floor": 2, "room": "attic"}
    ]

    locations.edit_location(
        "floor-room", {"room": "attic", "floor": 2}, {"room": "loft", "floor": 3}
    )
    assert locations.delete_location("floor-room", {"room": "hall", "floor": 0}) == Msg(
        detail="Location deleted"
    )
    assert locations.list_locations("floor-room") == [{"id": 2, "floor": 3, "room": "loft"}]


def test_values_keep_their_json_type(client: Client) -> None:
    flag = LocationIdentifier(name="flag", units=None, datatype=ValueDatatype.boolean)
    client.locations.insert_location([LAT, flag], [1.0, True])

    [location] = client.locations.list_locations("flag-lat")

    assert location == {"id": 1, "flag": True, "lat": 1.0}
    assert type(location["flag"]) is bool
    assert type(location["lat"]) is float
    assert type(location["id"]) is int


def test_locations_of_a_schema_that_does_not_exist_are_none(client: Client) -> None:
    client.locations.insert_location([LAT], [1.0])

    assert client.locations.list_locations("nope") == []


def test_errors_raise_api_error(client: Client) -> None:
    client.locations.insert_location_schema("site", None, [ROOM])

    with pytest.raises(ApiError) as duplicate:
        client.locations.insert_location_schema("site", None, [ROOM])
    with pytest.raises(ApiError) as unknown:
        client.locations.get_schema_details("nope")
    with pytest.raises(ApiError) as wrong_type:
        client.locations.insert_location_for_schema("site", {"room": 1})

    assert (duplicate.value.status_code, duplicate.value.detail) == (
        409,
        "LocationSchema exists already",
    )
    assert (unknown.value.status_code, unknown.value.detail) == (400, "No such schema")
    assert wrong_type.value.status_code == 422
    assert wrong_type.value.detail[0]["loc"] == ["body", "coordinates", "room"]


def test_identifiers_as_plain_dicts(client: Client) -> None:
    room = {"name": "room", "units": None, "datatype": "string"}

    client.locations.insert_location_schema("site", None, [room])

    assert client.locations.get_schema_details("site").identifiers == [ROOM]
