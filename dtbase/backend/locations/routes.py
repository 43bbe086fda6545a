from __future__ import annotations

from fastapi import APIRouter, status

from dtbase.backend.auth.deps import Writer
from dtbase.backend.db import SessionDep
from dtbase.backend.locations import store, tables
from dtbase.backend.locations.store import IdentifierSpec, SchemaDetails
from dtbase.backend.routing import documented, protected_router
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
    NewLocationSchema,
    SchemaNameRequest,
)
from dtbase.schemas.values import Scalar, ValueType

router: APIRouter = protected_router(prefix="/location", tags=["location"])


TYPE_ERRORS = "A coordinate's JSON type does not match its identifier's datatype"


@router.post(
    "/insert-location-schema",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented(
        {
            409: store.SCHEMA_EXISTS,
            422: "Invalid body, e.g. two identifiers with the same name or an unknown datatype",
        }
    ),
)
def insert_location_schema(body: NewLocationSchema, session: SessionDep, _: Writer) -> Msg:
    """Create a schema; identifiers are created unless one with the same (name, units)
    exists, in which case the submitted datatype is ignored."""
    store.insert_schema(
        session,
        name=body.name,
        description=body.description,
        identifiers=_specs(body.identifiers),
    )
    return Msg(detail="Location schema inserted")


@router.post(
    "/insert-location",
    status_code=status.HTTP_201_CREATED,
    response_model=InsertLocationResponse,
    responses=documented(
        {
            409: "Location or schema exists already (the same location), or a schema of that"
            " name exists with other identifiers",
            422: f"Lists of unequal length, duplicate identifier names, or: {TYPE_ERRORS}",
        }
    ),
)
def insert_location(
    body: InsertLocationRequest, session: SessionDep, _: Writer
) -> InsertLocationResponse:
    """Insert a location given as parallel lists of identifiers and values. Its schema is
    named after the sorted identifier names and is created if it does not exist."""
    name = store.insert_location_with_schema(
        session, identifiers=_specs(body.identifiers), values=body.values
    )
    return InsertLocationResponse(schema_name=name)


@router.post(
    "/insert-location-for-schema",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses=documented(
        {
            400: "Location schema does not exist, or the coordinates are not exactly the"
            " schema's identifiers",
            409: store.LOCATION_EXISTS,
            422: TYPE_ERRORS,
        }
    ),
)
def insert_location_for_schema(
    body: InsertLocationForSchemaRequest, session: SessionDep, _: Writer
) -> Msg:
    """Insert a location of an existing schema, with one coordinate per identifier."""
    store.insert_location(session, schema_name=body.schema_name, coordinates=body.coordinates)
    return Msg(detail="Location inserted")


@router.get("/list-location-schemas", response_model=list[LocationSchema])
def list_location_schemas(session: SessionDep) -> list[LocationSchema]:
    """Every schema that has identifiers (identifiers in alphabetical order)."""
    return [_schema(details) for details in store.list_schemas(session)]


@router.get("/list-location-identifiers", response_model=list[LocationIdentifier])
def list_location_identifiers(session: SessionDep) -> list[LocationIdentifier]:
    """Every identifier, including those no schema uses."""
    return [_identifier(row) for row in store.list_identifiers(session)]


@router.post(
    "/get-schema-details",
    response_model=LocationSchema,
    responses=documented({400: store.NO_SUCH_SCHEMA}),
)
def get_schema_details(body: SchemaNameRequest, session: SessionDep) -> LocationSchema:
    """One schema's name, description and identifiers."""
    return _schema(store.schema_details(session, name=body.schema_name))


@router.post(
    "/list-locations",
    response_model=list[dict[str, ValueType]],
    responses=documented(
        {
            400: "A filter key is not an identifier of the schema",
            422: TYPE_ERRORS,
        }
    ),
)
def list_locations(body: ListLocationsRequest, session: SessionDep) -> list[dict[str, Scalar]]:
    """The schema's locations as `{"id": ..., <identifier>: <value>, ...}`, by id;
    `coordinates` keeps those with the given values. No schema of that name: `[]`."""
    return store.list_locations(session, schema_name=body.schema_name, coordinates=body.coordinates)


@router.post(
    "/delete-location-schema",
    response_model=Msg,
    responses=documented(
        {
            400: "Location schema '<name>' not found.",
            409: "The schema still has locations",
        }
    ),
)
def delete_location_schema(body: SchemaNameRequest, session: SessionDep, _: Writer) -> Msg:
    """Delete a schema without locations; its identifiers remain."""
    store.delete_schema(session, name=body.schema_name)
    return Msg(detail=f"Location schema '{body.schema_name}' has been deleted.")


@router.post(
    "/delete-location",
    response_model=Msg,
    responses=documented(
        {
            400: "Location not found, Location schema does not exist, or the coordinates are"
            " not exactly the schema's identifiers",
            409: "A sensor was installed at the location",
            422: TYPE_ERRORS,
        }
    ),
)
def delete_location(body: LocationRequest, session: SessionDep, _: Writer) -> Msg:
    """Delete the location with exactly these coordinates."""
    store.delete_location(session, schema_name=body.schema_name, coordinates=body.coordinates)
    return Msg(detail="Location deleted")


@router.post(
    "/edit-location-schema",
    response_model=Msg,
    responses=documented(
        {
            400: store.NO_SCHEMA,
            409: "LocationSchema exists already (the new name is taken)",
            422: "Invalid body, e.g. an empty new name",
        }
    ),
)
def edit_location_schema(body: EditLocationSchemaRequest, session: SessionDep, _: Writer) -> Msg:
    """Rename a schema and/or change its description (dtbase addition). Fields left out
    stay unchanged; `"description": null` clears the description."""
    store.edit_schema(
        session,
        name=body.schema_name,
        new_name=body.new_name,
        description=body.description,
        set_description="description" in body.model_fields_set,
    )
    return Msg(detail=f"Location schema '{body.schema_name}' has been updated.")


@router.post(
    "/edit-location",
    response_model=Msg,
    responses=documented(
        {
            400: "Location not found, Location schema does not exist, or coordinates or"
            " new_coordinates are not exactly the schema's identifiers",
            409: "Location exists already (another location has the new coordinates)",
            422: TYPE_ERRORS,
        }
    ),
)
def edit_location(body: EditLocationRequest, session: SessionDep, _: Writer) -> Msg:
    """Give a location new coordinates (dtbase addition); its id and sensor
    installations stay."""
    store.edit_location(
        session,
        schema_name=body.schema_name,
        coordinates=body.coordinates,
        new_coordinates=body.new_coordinates,
    )
    return Msg(detail="Location updated")


def _specs(identifiers: list[LocationIdentifier]) -> list[IdentifierSpec]:
    return [IdentifierSpec(i.name, i.units, i.datatype) for i in identifiers]


def _identifier(row: tables.LocationIdentifier) -> LocationIdentifier:
    return LocationIdentifier(name=row.name, units=row.units, datatype=row.datatype)


def _schema(details: SchemaDetails) -> LocationSchema:
    return LocationSchema(
        name=details.schema.name,
        description=details.schema.description,
        identifiers=[_identifier(row) for row in details.identifiers],
    )
