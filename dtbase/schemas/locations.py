"""Wire models of the /location endpoints, shared by the backend and the client."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from dtbase.schemas.common import NAME_LENGTH, TEXT_LENGTH
from dtbase.schemas.values import ValueDatatype, ValueType


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


# PostgreSQL text cannot hold NUL; names and units are VARCHAR(NAME_LENGTH).
Text = Annotated[str, AfterValidator(_no_nul)]
Name = Annotated[str, Field(max_length=NAME_LENGTH), AfterValidator(_no_nul)]
Description = Annotated[str, Field(max_length=TEXT_LENGTH), AfterValidator(_no_nul)]
Coordinates = dict[str, ValueType]


class LocationIdentifier(BaseModel):
    """A named, typed coordinate, e.g. latitude in degrees (float)."""

    name: Name
    units: Name | None
    datatype: ValueDatatype


class LocationSchema(BaseModel):
    """A named set of identifiers; every location of the schema has a value for each."""

    name: Name
    description: Text | None
    identifiers: list[LocationIdentifier]


class NewLocationSchema(LocationSchema):
    """The body of insert-location-schema: a LocationSchema, its description bounded."""

    description: Description | None


class InsertLocationRequest(BaseModel):
    identifiers: list[LocationIdentifier]
    values: list[ValueType] = Field(description="values[i] is the coordinate of identifiers[i].")


class InsertLocationResponse(BaseModel):
    schema_name: str = Field(description="The identifier names, sorted, joined by '-'.")


class InsertLocationForSchemaRequest(BaseModel):
    schema_name: Name
    coordinates: Coordinates = Field(description="One value per identifier of the schema.")


class SchemaNameRequest(BaseModel):
    schema_name: Name


class ListLocationsRequest(BaseModel):
    schema_name: Text
    coordinates: Coordinates | None = Field(
        default=None, description="Keep only locations with these values (any subset)."
    )


class LocationRequest(BaseModel):
    schema_name: Name
    coordinates: Coordinates = Field(description="All the location's coordinates.")


class EditLocationSchemaRequest(BaseModel):
    schema_name: Name
    new_name: Name | None = Field(default=None, min_length=1, description="Rename the schema.")
    description: Description | None = Field(
        default=None, description="Set the description (null clears it); absent: unchanged."
    )


class EditLocationRequest(BaseModel):
    schema_name: Name
    coordinates: Coordinates = Field(description="All the location's current coordinates.")
    new_coordinates: Coordinates = Field(description="All the location's new coordinates.")
