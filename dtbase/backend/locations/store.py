"""Queries on location identifiers, schemas and locations.

Functions flush, never commit: the request's session does that. A location is a row of
`location` plus one `location_value` row per identifier of its schema. There is no unique
constraint on a location's coordinates, so inserts and edits lock the schema row
(`FOR NO KEY UPDATE`) before checking for an equal location: concurrent writers of one
schema queue up instead of both passing the check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dtbase.backend.errors import AlreadyExists, Conflict, InvalidInput, Unprocessable
from dtbase.backend.events.record import record
from dtbase.backend.locations.tables import (
    Location,
    LocationIdentifier,
    LocationSchema,
    LocationSchemaIdentifier,
    LocationValue,
)
from dtbase.backend.sensors.tables import SensorLocation
from dtbase.backend.values import VALUE_COLUMNS, value_columns
from dtbase.schemas.events import EventKind
from dtbase.schemas.values import Scalar, ValueDatatype, ValueTypeError, check_value

NO_SCHEMA = "Location schema does not exist"
NO_SUCH_SCHEMA = "No such schema"
SCHEMA_EXISTS = "LocationSchema exists already"
LOCATION_EXISTS = "Location exists already"
NO_LOCATION = "Location not found"

# location_value.value_integer is a BIGINT.


@dataclass(frozen=True)
class IdentifierSpec:
    """An identifier as a request names it: (name, units) picks the row; datatype is used
    only when the identifier does not exist yet (DTBase ignores it otherwise)."""

    name: str
    units: str | None
    datatype: ValueDatatype


@dataclass(frozen=True)
class SchemaDetails:
    schema: LocationSchema
    identifiers: list[LocationIdentifier]


# ---------------------------------------------------------------------------- lookups


def find_schema(session: Session, *, name: str) -> LocationSchema | None:
    return session.scalars(select(LocationSchema).where(LocationSchema.name == name)).one_or_none()


def get_schema(session: Session, *, name: str, missing: str = NO_SCHEMA) -> LocationSchema:
    """The schema called `name`, or 400 with the message `missing`."""
    schema = find_schema(session, name=name)
    if schema is None:
        raise InvalidInput(missing)
    return schema


def identifiers_of(session: Session, *, schema_id: int) -> list[LocationIdentifier]:
    """The schema's identifiers in alphabetical order of name (DTBase links them so)."""
    query = (
        select(LocationIdentifier)
        .join(
            LocationSchemaIdentifier,
            LocationSchemaIdentifier.identifier_id == LocationIdentifier.id,
        )
        .where(LocationSchemaIdentifier.schema_id == schema_id)
        .order_by(LocationIdentifier.name, LocationSchemaIdentifier.id)
    )
    return list(session.scalars(query).all())


def list_identifiers(session: Session) -> Sequence[LocationIdentifier]:
    return session.scalars(select(LocationIdentifier).order_by(LocationIdentifier.id)).all()


def list_schemas(session: Session) -> list[SchemaDetails]:
    """Schemas with at least one identifier (DTBase's inner join), by id."""
    query = (
        select(LocationSchema, LocationIdentifier)
        .join(LocationSchemaIdentifier, LocationSchemaIdentifier.schema_id == LocationSchema.id)
        .join(LocationIdentifier, LocationIdentifier.id == LocationSchemaIdentifier.identifier_id)
        .order_by(LocationSchema.id, LocationIdentifier.name, LocationSchemaIdentifier.id)
    )
    grouped: dict[int, SchemaDetails] = {}
    for schema, identifier in session.execute(query):
        grouped.setdefault(schema.id, SchemaDetails(schema, [])).identifiers.append(identifier)
    return list(grouped.values())


def schema_details(session: Session, *, name: str) -> SchemaDetails:
    schema = get_schema(session, name=name, missing=NO_SUCH_SCHEMA)
    return SchemaDetails(schema, identifiers_of(session, schema_id=schema.id))


# ------------------------------------------------------- functions other domains call


def match_location_ids(
    session: Session, *, schema_name: str, coordinates: Mapping[str, Scalar]
) -> list[int]:
    """Ids (ascending) of the schema's locations whose coordinates equal the given subset.

    An empty `coordinates` matches every location of the schema. Raises `InvalidInput`
    for an unknown schema or a key that is not an identifier of the schema, and
    `Unprocessable` (loc `coordinates`, key) for a value of the wrong JSON type.
    """
    schema = get_schema(session, name=schema_name)
    by_name = _by_name(identifiers_of(session, schema_id=schema.id))
    unknown = [key for key in coordinates if key not in by_name]
    if unknown:
        verb = "is not an identifier" if len(unknown) == 1 else "are not identifiers"
        raise InvalidInput(
            f"{_quoted(unknown)} {verb} of location schema '{schema.name}';"
            f" its identifiers are: {_names(by_name)}"
        )
    values = _checked(by_name, coordinates, field="coordinates")
    return _matching(session, schema_id=schema.id, values=values)


def coordinates_of(
    session: Session, *, location_ids: Sequence[int]
) -> dict[int, dict[str, Scalar]]:
    """For each given location id, identifier name -> value, keys in alphabetical order.

    Every id given has an entry (an empty dict for a location of an identifier-less
    schema or an id that does not exist).
    """
    result: dict[int, dict[str, Scalar]] = {location_id: {} for location_id in location_ids}
    if not result:
        return result
    query = (
        select(LocationValue, LocationIdentifier)
        .join(LocationIdentifier, LocationIdentifier.id == LocationValue.identifier_id)
        .where(LocationValue.location_id.in_(list(result)))
        .order_by(LocationValue.location_id, LocationIdentifier.name, LocationIdentifier.id)
    )
    for value, identifier in session.execute(query):
        stored = value.value_of(identifier.datatype)
        if stored is not None:
            result[value.location_id][identifier.name] = stored
    return result


# ---------------------------------------------------------------------------- schemas


def insert_schema(
    session: Session,
    *,
    name: str,
    description: str | None,
    identifiers: Sequence[IdentifierSpec],
) -> LocationSchema:
    """Create a schema, creating the identifiers that do not exist yet (by name, units)."""
    _check_distinct_names(identifiers)
    if find_schema(session, name=name) is not None:
        raise AlreadyExists(SCHEMA_EXISTS)
    rows = [_identifier(session, spec) for spec in identifiers]
    schema = LocationSchema(name=name, description=description)
    try:
        with session.begin_nested():
            session.add(schema)
    except IntegrityError as error:
        raise AlreadyExists(SCHEMA_EXISTS) from error
    # DTBase links the identifiers in alphabetical order of name; link ids follow it.
    for row in sorted(rows, key=lambda row: row.name):
        session.add(LocationSchemaIdentifier(schema_id=schema.id, identifier_id=row.id))
    session.flush()
    return schema


def edit_schema(
    session: Session,
    *,
    name: str,
    new_name: str | None = None,
    description: str | None = None,
    set_description: bool = False,
) -> LocationSchema:
    """Rename a schema and/or set its description (`set_description` allows null)."""
    schema = get_schema(session, name=name)
    if new_name is not None and new_name != schema.name:
        if find_schema(session, name=new_name) is not None:
            raise AlreadyExists(SCHEMA_EXISTS)
        schema.name = new_name
    if set_description:
        schema.description = description
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as error:
        raise AlreadyExists(SCHEMA_EXISTS) from error
    return schema


def delete_schema(session: Session, *, name: str) -> None:
    """Delete a schema and its identifier links; 409 while it still has locations."""
    schema = get_schema(session, name=name, missing=f"Location schema '{name}' not found.")
    count = session.scalar(
        select(func.count()).select_from(Location).where(Location.schema_id == schema.id)
    )
    if count:
        raise Conflict(
            f"Location schema '{name}' still has {_plural(count, 'location')}; delete them first."
        )
    session.delete(schema)
    session.flush()


# -------------------------------------------------------------------------- locations


def insert_location(
    session: Session,
    *,
    schema_name: str,
    coordinates: Mapping[str, Scalar],
    exists_message: str = LOCATION_EXISTS,
) -> Location:
    """Add a location with exactly the schema's identifiers as coordinates."""
    schema = get_schema(session, name=schema_name)
    by_name = _by_name(identifiers_of(session, schema_id=schema.id))
    _check_complete(schema, by_name, coordinates, field="coordinates")
    values = _checked(by_name, coordinates, field="coordinates")
    _lock(session, schema)
    if _matching(session, schema_id=schema.id, values=values):
        raise AlreadyExists(exists_message)
    location = Location(schema_id=schema.id)
    session.add(location)
    session.flush()
    session.add_all(
        LocationValue(
            location_id=location.id,
            identifier_id=identifier.id,
            **value_columns(identifier.datatype, value),
        )
        for identifier, value in values
    )
    session.flush()
    record(
        session, EventKind.location_created, {"location": str(location.id), "schema": schema_name}
    )
    return location


def insert_location_with_schema(
    session: Session, *, identifiers: Sequence[IdentifierSpec], values: Sequence[Scalar]
) -> str:
    """DTBase's insert-location: the schema is named after the sorted identifier names and
    is created if it does not exist (decision 4). Returns the schema's name."""
    if len(values) != len(identifiers):
        raise Unprocessable(
            ("values",),
            f"values has {len(values)} entries but identifiers has {len(identifiers)};"
            " values[i] is the coordinate of identifiers[i]",
            list(values),
        )
    _check_distinct_names(identifiers)
    name = "-".join(sorted(spec.name for spec in identifiers))
    schema = find_schema(session, name=name)
    if schema is None:
        insert_schema(session, name=name, description=name, identifiers=identifiers)
    else:
        wanted = sorted((spec.name, spec.units) for spec in identifiers)
        have = sorted((i.name, i.units) for i in identifiers_of(session, schema_id=schema.id))
        if wanted != have:
            raise Conflict(
                f"Location schema '{name}' exists with other identifiers:"
                f" {_describe(have)}; you gave {_describe(wanted)}"
            )
    coordinates = {spec.name: value for spec, value in zip(identifiers, values, strict=True)}
    # Type errors are reported against the request's `values` list, by index.
    position = {spec.name: index for index, spec in enumerate(identifiers)}
    try:
        insert_location(
            session,
            schema_name=name,
            coordinates=coordinates,
            exists_message="Location or schema exists already",
        )
    except Unprocessable as error:
        key = error.errors[0]["loc"][-1]
        if isinstance(key, str) and key in position:
            error.errors[0]["loc"] = ["body", "values", position[key]]
        raise
    return name


def find_location(
    session: Session, *, schema_name: str, coordinates: Mapping[str, Scalar], field: str
) -> tuple[LocationSchema, Location]:
    """The location with exactly these (full) coordinates, or 400 `Location not found`."""
    schema = get_schema(session, name=schema_name)
    by_name = _by_name(identifiers_of(session, schema_id=schema.id))
    _check_complete(schema, by_name, coordinates, field=field)
    values = _checked(by_name, coordinates, field=field)
    ids = _matching(session, schema_id=schema.id, values=values)
    if not ids:
        raise InvalidInput(NO_LOCATION)
    return schema, session.get_one(Location, ids[0])


def edit_location(
    session: Session,
    *,
    schema_name: str,
    coordinates: Mapping[str, Scalar],
    new_coordinates: Mapping[str, Scalar],
) -> Location:
    """Give a location new coordinates (all of them); 409 if another location has them."""
    schema, location = find_location(
        session, schema_name=schema_name, coordinates=coordinates, field="coordinates"
    )
    by_name = _by_name(identifiers_of(session, schema_id=schema.id))
    _check_complete(schema, by_name, new_coordinates, field="new_coordinates")
    values = _checked(by_name, new_coordinates, field="new_coordinates")
    _lock(session, schema)
    if any(i != location.id for i in _matching(session, schema_id=schema.id, values=values)):
        raise AlreadyExists(LOCATION_EXISTS)
    for identifier, value in values:
        row = session.get_one(LocationValue, (location.id, identifier.id))
        setattr(row, VALUE_COLUMNS[identifier.datatype], value)
    session.flush()
    return location


def delete_location(
    session: Session, *, schema_name: str, coordinates: Mapping[str, Scalar]
) -> None:
    """Delete a location and its coordinates; 409 while sensor installations refer to it."""
    _, location = find_location(
        session, schema_name=schema_name, coordinates=coordinates, field="coordinates"
    )
    count = session.scalar(
        select(func.count())
        .select_from(SensorLocation)
        .where(SensorLocation.location_id == location.id)
    )
    if count:
        raise Conflict(
            f"Location {location.id} is used by {_plural(count, 'sensor installation')};"
            " delete those sensors or their installations first."
        )
    session.delete(location)
    session.flush()
    record(
        session, EventKind.location_deleted, {"location": str(location.id), "schema": schema_name}
    )


def list_locations(
    session: Session, *, schema_name: str, coordinates: Mapping[str, Scalar] | None
) -> list[dict[str, Scalar]]:
    """`[{"id": ..., <identifier>: <value>, ...}]` for the schema's matching locations;
    none for a schema that does not exist (DTBase's own test expects 200 and a list)."""
    if find_schema(session, name=schema_name) is None:
        return []
    ids = match_location_ids(session, schema_name=schema_name, coordinates=coordinates or {})
    found = coordinates_of(session, location_ids=ids)
    # An identifier called "id" cannot shadow the location's id.
    return [
        {"id": location_id, **{k: v for k, v in values.items() if k != "id"}}
        for location_id, values in found.items()
    ]


# ---------------------------------------------------------------------------- helpers


def _identifier(session: Session, spec: IdentifierSpec) -> LocationIdentifier:
    """The identifier (name, units), NULL units equal, created if it does not exist."""
    query = select(LocationIdentifier).where(
        LocationIdentifier.name == spec.name,
        LocationIdentifier.units.is_not_distinct_from(spec.units),
    )
    row = session.scalars(query).one_or_none()
    if row is not None:
        return row
    row = LocationIdentifier(name=spec.name, units=spec.units, datatype=spec.datatype)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Created by a concurrent request since we looked.
        return session.scalars(query).one()
    return row


def _check_distinct_names(identifiers: Sequence[IdentifierSpec]) -> None:
    seen: dict[str, int] = {}
    for index, spec in enumerate(identifiers):
        if spec.name in seen:
            raise Unprocessable(
                ("identifiers", index, "name"),
                f"identifier name '{spec.name}' is also used at index {seen[spec.name]};"
                " a schema's identifier names must be distinct",
                spec.name,
            )
        seen[spec.name] = index


def _by_name(identifiers: Sequence[LocationIdentifier]) -> dict[str, LocationIdentifier]:
    return {identifier.name: identifier for identifier in identifiers}


def _check_complete(
    schema: LocationSchema,
    by_name: Mapping[str, LocationIdentifier],
    coordinates: Mapping[str, Scalar],
    *,
    field: str,
) -> None:
    missing = [name for name in by_name if name not in coordinates]
    extra = [key for key in coordinates if key not in by_name]
    if not missing and not extra:
        return
    problems = []
    if missing:
        problems.append(f"missing {_quoted(missing)}")
    if extra:
        problems.append(f"unknown {_quoted(extra)}")
    raise InvalidInput(
        f"{field} must have exactly the identifiers of location schema '{schema.name}'"
        f" ({_names(by_name)}): {'; '.join(problems)}"
    )


def _checked(
    by_name: Mapping[str, LocationIdentifier], coordinates: Mapping[str, Scalar], *, field: str
) -> list[tuple[LocationIdentifier, Scalar]]:
    """Each coordinate with its identifier, converted to the identifier's datatype."""
    checked = []
    for key, value in coordinates.items():
        identifier = by_name[key]
        try:
            stored = check_value(identifier.datatype, value)
        except ValueTypeError as error:
            raise Unprocessable((field, key), f"{key}: {error}", value) from error
        checked.append((identifier, stored))
    return checked


def _matching(
    session: Session, *, schema_id: int, values: Sequence[tuple[LocationIdentifier, Scalar]]
) -> list[int]:
    conditions: list[ColumnElement[bool]] = [Location.schema_id == schema_id]
    for identifier, value in values:
        column = getattr(LocationValue, VALUE_COLUMNS[identifier.datatype])
        conditions.append(
            exists().where(
                LocationValue.location_id == Location.id,
                LocationValue.identifier_id == identifier.id,
                column == value,
            )
        )
    query = select(Location.id).where(and_(*conditions)).order_by(Location.id)
    return list(session.scalars(query).all())


def _lock(session: Session, schema: LocationSchema) -> None:
    """Serialise location writes within one schema (see the module docstring)."""
    session.execute(
        select(LocationSchema.id)
        .where(LocationSchema.id == schema.id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE
    )


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _names(by_name: Mapping[str, LocationIdentifier]) -> str:
    return _quoted(list(by_name)) if by_name else "none"


def _describe(pairs: Sequence[tuple[str, str | None]]) -> str:
    return ", ".join(f"{name} ({units})" if units is not None else name for name, units in pairs)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
