from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dtbase.client.resource import Resource, as_models
from dtbase.client.unset import UNSET, Unset, given
from dtbase.schemas.common import Msg
from dtbase.schemas.locations import (
    EditLocationRequest,
    EditLocationSchemaRequest,
    InsertLocationForSchemaRequest,
    InsertLocationRequest,
    InsertLocationResponse,
    ListLocationsRequest,
    LocationIdentifier,
    LocationRequest,
    LocationSchema,
    SchemaNameRequest,
)
from dtbase.schemas.values import Scalar

# One location as list-locations returns it: {"id": ..., <identifier>: <value>, ...}.
LocationRow = dict[str, Scalar]


class Locations(Resource):
    """The /location endpoints."""

    def insert_location_schema(
        self,
        name: str,
        description: str | None,
        identifiers: Sequence[LocationIdentifier | Mapping[str, Any]],
    ) -> Msg:
        body = LocationSchema(
            name=name,
            description=description,
            identifiers=as_models(LocationIdentifier, identifiers),
        )
        return self._client.post(
            "/location/insert-location-schema", body.model_dump(mode="json"), Msg
        )

    def insert_location(
        self,
        identifiers: Sequence[LocationIdentifier | Mapping[str, Any]],
        values: Sequence[Scalar],
    ) -> InsertLocationResponse:
        """Insert a location (its schema, named after the sorted identifier names, is
        created if needed); returns the schema's name."""
        body = InsertLocationRequest(
            identifiers=as_models(LocationIdentifier, identifiers), values=list(values)
        )
        return self._client.post(
            "/location/insert-location", body.model_dump(mode="json"), InsertLocationResponse
        )

    def insert_location_for_schema(
        self, schema_name: str, coordinates: Mapping[str, Scalar]
    ) -> Msg:
        body = InsertLocationForSchemaRequest(
            schema_name=schema_name, coordinates=dict(coordinates)
        )
        return self._client.post(
            "/location/insert-location-for-schema", body.model_dump(mode="json"), Msg
        )

    def list_location_schemas(self) -> list[LocationSchema]:
        return self._client.get("/location/list-location-schemas", list[LocationSchema])

    def list_location_identifiers(self) -> list[LocationIdentifier]:
        return self._client.get("/location/list-location-identifiers", list[LocationIdentifier])

    def get_schema_details(self, schema_name: str) -> LocationSchema:
        body = SchemaNameRequest(schema_name=schema_name)
        return self._client.post("/location/get-schema-details", body.model_dump(), LocationSchema)

    def list_locations(
        self, schema_name: str, coordinates: Mapping[str, Scalar] | None = None
    ) -> list[LocationRow]:
        """The schema's locations, optionally only those with the given coordinates."""
        body = ListLocationsRequest(
            schema_name=schema_name,
            coordinates=None if coordinates is None else dict(coordinates),
        )
        return self._client.post(
            "/location/list-locations",
            body.model_dump(mode="json", exclude_none=True),
            list[LocationRow],
        )

    def delete_location_schema(self, schema_name: str) -> Msg:
        body = SchemaNameRequest(schema_name=schema_name)
        return self._client.post("/location/delete-location-schema", body.model_dump(), Msg)

    def delete_location(self, schema_name: str, coordinates: Mapping[str, Scalar]) -> Msg:
        body = LocationRequest(schema_name=schema_name, coordinates=dict(coordinates))
        return self._client.post("/location/delete-location", body.model_dump(mode="json"), Msg)

    def edit_location_schema(
        self,
        schema_name: str,
        new_name: str | Unset = UNSET,
        description: str | Unset | None = UNSET,
    ) -> Msg:
        """Rename a schema and/or set its description (None clears it); fields not given
        stay."""
        body = EditLocationSchemaRequest(
            schema_name=schema_name, **given(new_name=new_name, description=description)
        )
        return self._client.post(
            "/location/edit-location-schema", body.model_dump(exclude_unset=True), Msg
        )

    def edit_location(
        self,
        schema_name: str,
        coordinates: Mapping[str, Scalar],
        new_coordinates: Mapping[str, Scalar],
    ) -> Msg:
        """Give the location with `coordinates` (all of them) the `new_coordinates`."""
        body = EditLocationRequest(
            schema_name=schema_name,
            coordinates=dict(coordinates),
            new_coordinates=dict(new_coordinates),
        )
        return self._client.post("/location/edit-location", body.model_dump(mode="json"), Msg)
