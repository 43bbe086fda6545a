"""Queries on sensors: measures, types, sensors, readings and location history.

Functions flush, never commit: the request's session does that (and rolls back whatever a
failed request wrote).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from dtbase.backend.async_reads import AsyncReads
from dtbase.backend.db import Precompiled
from dtbase.backend.errors import AlreadyExists, Conflict, InvalidInput, Unprocessable
from dtbase.backend.events.record import ReadingsStored, record, record_readings
from dtbase.backend.locations import store as locations_store
from dtbase.backend.models.tables import ModelRun
from dtbase.backend.sensors.tables import (
    Sensor,
    SensorLocation,
    SensorMeasure,
    SensorReading,
    SensorType,
    SensorTypeMeasure,
)
from dtbase.backend.timeseries import ingest
from dtbase.backend.values import VALUE_COLUMNS
from dtbase.core.unset import UNSET, Unset
from dtbase.schemas import sensors as schemas
from dtbase.schemas.events import EventKind
from dtbase.schemas.values import Scalar, ValueDatatype, ValueListError, check_values

NO_SUCH_SENSOR = "Sensor does not exist"
NO_SUCH_TYPE = "Sensor type does not exist"
NO_SUCH_MEASURE = "Sensor measure does not exist"
SENSOR_EXISTS = "Sensor exists already"
TYPE_EXISTS = "Sensor type exists already"


# Measures


def _same_units(units: str | None) -> ColumnElement[bool]:
    """NULL units equal NULL units, as in the (name, units) unique constraint."""
    return SensorMeasure.units.is_not_distinct_from(units)


def find_measure(session: Session, *, name: str, units: str | None) -> SensorMeasure | None:
    query = select(SensorMeasure).where(SensorMeasure.name == name, _same_units(units))
    return session.scalars(query).one_or_none()


def get_measure(session: Session, *, name: str, units: str | None) -> SensorMeasure:
    measure = find_measure(session, name=name, units=units)
    if measure is None:
        raise InvalidInput(NO_SUCH_MEASURE)
    return measure


def list_measures(session: Session) -> Sequence[SensorMeasure]:
    return session.scalars(select(SensorMeasure).order_by(SensorMeasure.id)).all()


def ensure_measure(
    session: Session, *, name: str, units: str | None, datatype: ValueDatatype
) -> SensorMeasure:
    """The measure (name, units), created with `datatype` unless it exists (then as is)."""
    session.execute(
        pg_insert(SensorMeasure)
        .values(name=name, units=units, datatype=datatype)
        .on_conflict_do_nothing()
    )
    return get_measure(session, name=name, units=units)


def edit_measure(
    session: Session,
    *,
    name: str,
    units: str | None,
    new_name: str | None = None,
    new_units: str | Unset | None = UNSET,
    new_datatype: ValueDatatype | None = None,
) -> SensorMeasure:
    measure = get_measure(session, name=name, units=units)
    if new_datatype is not None and new_datatype != measure.datatype:
        count = _count(session, SensorReading.measure_id, measure.id)
        if count:
            raise Conflict(
                f"Sensor measure '{name}' has {_plural(count, 'reading')}:"
                " its datatype cannot change"
            )
        measure.datatype = new_datatype
    if new_name is not None:
        measure.name = new_name
    if not isinstance(new_units, Unset):
        measure.units = new_units
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as error:
        raise AlreadyExists("Sensor measure exists already") from error
    return measure


def delete_measure(session: Session, *, name: str, units: str | None) -> None:
    """Delete a measure that no sensor type, reading or model run uses."""
    measure = get_measure(session, name=name, units=units)
    type_names = session.scalars(
        select(SensorType.name)
        .join(SensorTypeMeasure, SensorTypeMeasure.type_id == SensorType.id)
        .where(SensorTypeMeasure.measure_id == measure.id)
        .order_by(SensorType.id)
    ).all()
    if type_names:
        names = ", ".join(f"'{type_name}'" for type_name in type_names)
        noun = "sensor type" if len(type_names) == 1 else "sensor types"
        raise Conflict(f"Sensor measure '{name}' is used by {noun} {names}")
    readings = _count(session, SensorReading.measure_id, measure.id)
    if readings:
        raise Conflict(f"Sensor measure '{name}' has {_plural(readings, 'reading')}")
    runs = _count(session, ModelRun.sensor_measure_id, measure.id)
    if runs:
        raise Conflict(f"Sensor measure '{name}' is used by {_plural(runs, 'model run')}")
    session.delete(measure)
    session.flush()


def _count(session: Session, column: InstrumentedAttribute[Any], value: int) -> int:
    return session.scalar(select(func.count()).where(column == value)) or 0


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _describe(name: str, units: str | None) -> str:
    return f"'{name}' (" + ("no units" if units is None else f"units '{units}'") + ")"


# Sensor types


def find_type(session: Session, *, name: str) -> SensorType | None:
    return session.scalars(select(SensorType).where(SensorType.name == name)).one_or_none()


def get_type(session: Session, *, name: str) -> SensorType:
    sensor_type = find_type(session, name=name)
    if sensor_type is None:
        raise InvalidInput(NO_SUCH_TYPE)
    return sensor_type


def insert_type(
    session: Session,
    *,
    name: str,
    description: str | None,
    measures: Sequence[schemas.SensorMeasure],
) -> SensorType:
    """A type with its measures in the given order; existing measures are reused as they are
    (their datatype is not changed), and a measure listed twice is linked once."""
    sensor_type = SensorType(name=name, description=description)
    try:
        with session.begin_nested():
            session.add(sensor_type)
    except IntegrityError as error:
        raise AlreadyExists(TYPE_EXISTS) from error
    linked: set[int] = set()
    for wanted in measures:
        measure = ensure_measure(
            session, name=wanted.name, units=wanted.units, datatype=wanted.datatype
        )
        if measure.id not in linked:
            linked.add(measure.id)
            session.add(SensorTypeMeasure(type_id=sensor_type.id, measure_id=measure.id))
    session.flush()
    return sensor_type


def measures_of_type(session: Session, *, type_id: int) -> Sequence[SensorMeasure]:
    """The type's measures in the order they were given."""
    return session.scalars(
        select(SensorMeasure)
        .join(SensorTypeMeasure, SensorTypeMeasure.measure_id == SensorMeasure.id)
        .where(SensorTypeMeasure.type_id == type_id)
        .order_by(SensorTypeMeasure.id)
    ).all()


def list_types(session: Session) -> list[tuple[SensorType, list[SensorMeasure]]]:
    """Every type (by id) with its measures (in the order they were given)."""
    types = session.scalars(select(SensorType).order_by(SensorType.id)).all()
    measures: dict[int, list[SensorMeasure]] = {sensor_type.id: [] for sensor_type in types}
    links = session.execute(
        select(SensorTypeMeasure.type_id, SensorMeasure)
        .join(SensorMeasure, SensorTypeMeasure.measure_id == SensorMeasure.id)
        .order_by(SensorTypeMeasure.id)
    )
    for type_id, measure in links:
        measures.setdefault(type_id, []).append(measure)
    return [(sensor_type, measures[sensor_type.id]) for sensor_type in types]


def edit_type(
    session: Session,
    *,
    name: str,
    new_name: str | None = None,
    description: str | Unset | None = UNSET,
) -> SensorType:
    sensor_type = get_type(session, name=name)
    if new_name is not None:
        sensor_type.name = new_name
    if not isinstance(description, Unset):
        sensor_type.description = description
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as error:
        raise AlreadyExists(TYPE_EXISTS) from error
    return sensor_type


def delete_type(session: Session, *, name: str) -> None:
    """Delete a type without sensors; its links to measures go, the measures stay."""
    sensor_type = get_type(session, name=name)
    sensors = _count(session, Sensor.type_id, sensor_type.id)
    if sensors:
        raise Conflict(f"Sensor type '{name}' still has {_plural(sensors, 'sensor')}")
    session.delete(sensor_type)
    session.flush()


# Sensors


def find_sensor(session: Session, *, unique_identifier: str) -> Sensor | None:
    query = select(Sensor).where(Sensor.unique_identifier == unique_identifier)
    return session.scalars(query).one_or_none()


def get_sensor(session: Session, *, unique_identifier: str) -> Sensor:
    sensor = find_sensor(session, unique_identifier=unique_identifier)
    if sensor is None:
        raise InvalidInput(NO_SUCH_SENSOR)
    return sensor


def insert_sensor(
    session: Session,
    *,
    type_name: str,
    unique_identifier: str,
    name: str | None = None,
    notes: str | None = None,
) -> Sensor:
    sensor_type = get_type(session, name=type_name)
    sensor = Sensor(
        type_id=sensor_type.id, unique_identifier=unique_identifier, name=name, notes=notes
    )
    try:
        with session.begin_nested():
            session.add(sensor)
    except IntegrityError as error:
        raise AlreadyExists(SENSOR_EXISTS) from error
    record(
        session, EventKind.sensor_created, {"sensor": unique_identifier, "sensor_type": type_name}
    )
    return sensor


# `list-sensors` is among the busiest requests: its query is compiled once, for all
# sensors and for one type's, and awaited in the event loop (`async_reads`).
# A LIMIT of NULL is no limit in PostgreSQL.
_SENSORS = (
    select(Sensor.unique_identifier, Sensor.name, Sensor.notes)
    .order_by(Sensor.id)
    .offset(bindparam("offset"))
    .limit(bindparam("limit"))
)
_LIST_SENSORS = Precompiled(_SENSORS)
_LIST_SENSORS_OF_TYPE = Precompiled(
    _SENSORS.join(SensorType, Sensor.type_id == SensorType.id).where(
        SensorType.name == bindparam("type_name")
    )
)


async def list_sensors(
    reads: AsyncReads, *, type_name: str | None = None, limit: int | None = None, offset: int = 0
) -> Sequence[tuple[str, str | None, str | None]]:
    """Sensors by id (unique identifier, name, notes), of one type if given (an unknown
    type has none)."""
    if type_name is None:
        return await reads.rows(_LIST_SENSORS, limit=limit, offset=offset)
    return await reads.rows(_LIST_SENSORS_OF_TYPE, type_name=type_name, limit=limit, offset=offset)


def sensor_details(
    session: Session,
    *,
    type_name: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    unique_identifier: str | None = None,
) -> list[schemas.SensorDetails]:
    """Sensors as `list_sensors` pages them (or the one named), each with its type's name
    and its newest installation: one query, and one for the locations' coordinates."""
    newest = (
        select(SensorLocation.location_id, SensorLocation.installation_datetime)
        .where(SensorLocation.sensor_id == Sensor.id)
        .order_by(SensorLocation.installation_datetime.desc())
        .limit(1)
        .lateral()
    )
    query = (
        select(Sensor, SensorType.name, newest.c.location_id, newest.c.installation_datetime)
        .join(SensorType, Sensor.type_id == SensorType.id)
        .outerjoin(newest, true())
        .order_by(Sensor.id)
        .offset(offset)
        .limit(limit)
    )
    if type_name is not None:
        query = query.where(SensorType.name == type_name)
    if unique_identifier is not None:
        query = query.where(Sensor.unique_identifier == unique_identifier)
    rows = session.execute(query).all()
    coordinates = locations_store.coordinates_of(
        session, location_ids=sorted({row.location_id for row in rows if row.location_id})
    )
    return [
        schemas.SensorDetails(
            unique_identifier=row.Sensor.unique_identifier,
            name=row.Sensor.name,
            notes=row.Sensor.notes,
            type_name=row.name,
            location=None
            if row.location_id is None
            else schemas.SensorLocation.model_validate(
                {
                    "id": row.location_id,
                    **coordinates[row.location_id],
                    "installation_datetime": row.installation_datetime,
                }
            ),
        )
        for row in rows
    ]


def latest_readings(
    session: Session, *, type_name: str | None = None, limit: int | None = None, offset: int = 0
) -> list[schemas.LatestReading]:
    """The newest reading of each measure of each sensor (paged like `list_sensors`), one
    backward index probe per pair."""
    sensors = (
        select(Sensor.id, Sensor.unique_identifier, Sensor.type_id, SensorType.name)
        .join(SensorType, Sensor.type_id == SensorType.id)
        .order_by(Sensor.id)
        .offset(offset)
        .limit(limit)
    )
    if type_name is not None:
        sensors = sensors.where(SensorType.name == type_name)
    paged = sensors.subquery()
    newest = (
        select(SensorReading)
        .where(SensorReading.sensor_id == paged.c.id, SensorReading.measure_id == SensorMeasure.id)
        .order_by(SensorReading.timestamp.desc())
        .limit(1)
        .lateral()
    )
    query = (
        select(paged.c.unique_identifier, paged.c.name, SensorMeasure, newest)
        .join(SensorTypeMeasure, SensorTypeMeasure.type_id == paged.c.type_id)
        .join(SensorMeasure, SensorMeasure.id == SensorTypeMeasure.measure_id)
        .outerjoin(newest, true())
        .order_by(paged.c.id, SensorMeasure.name, SensorMeasure.units)
    )
    return [
        schemas.LatestReading(
            unique_identifier=row.unique_identifier,
            type_name=row.name,
            measure_name=row.SensorMeasure.name,
            measure_units=row.SensorMeasure.units,
            value=getattr(row, VALUE_COLUMNS[row.SensorMeasure.datatype]),
            timestamp=row.timestamp,
        )
        for row in session.execute(query)
    ]


def edit_sensor(
    session: Session, *, unique_identifier: str, name: str | None, notes: str | None
) -> Sensor:
    sensor = get_sensor(session, unique_identifier=unique_identifier)
    sensor.name, sensor.notes = name, notes
    session.flush()
    return sensor


def delete_sensor(session: Session, *, unique_identifier: str) -> None:
    """Delete a sensor with its readings and location history, unless model runs use it."""
    sensor = get_sensor(session, unique_identifier=unique_identifier)
    runs = _count(session, ModelRun.sensor_id, sensor.id)
    if runs:
        raise Conflict(f"Sensor '{unique_identifier}' is used by {_plural(runs, 'model run')}")
    type_name = session.get_one(SensorType, sensor.type_id).name
    session.delete(sensor)
    session.flush()
    record(
        session, EventKind.sensor_deleted, {"sensor": unique_identifier, "sensor_type": type_name}
    )


# Readings


# Built once: every ingest request runs it (see `users.store._BY_EMAIL`).
_SENSOR_AND_MEASURES = (
    select(Sensor, SensorMeasure)
    .outerjoin(SensorTypeMeasure, SensorTypeMeasure.type_id == Sensor.type_id)
    .outerjoin(SensorMeasure, SensorMeasure.id == SensorTypeMeasure.measure_id)
    .where(Sensor.unique_identifier == bindparam("uid"))
    .order_by(SensorTypeMeasure.id)
)


def sensor_and_measures(
    session: Session, *, unique_identifier: str
) -> tuple[Sensor, list[SensorMeasure]]:
    """The sensor and its type's measures (in the order given), in one query."""
    rows = session.execute(_SENSOR_AND_MEASURES, {"uid": unique_identifier}).all()
    if not rows:
        raise InvalidInput(NO_SUCH_SENSOR)
    return rows[0][0], [measure for _, measure in rows if measure is not None]


_SENSOR_KEYS = select(Sensor.unique_identifier, Sensor.id, Sensor.type_id).where(
    Sensor.unique_identifier == func.any(bindparam("uids"))
)


def sensor_keys(
    session: Session, *, unique_identifiers: Collection[str]
) -> dict[str, tuple[int, int]]:
    """The id and type id of each of these sensors (unknown ones left out), in one query
    of plain rows: a bulk request from a fleet names a thousand sensors, and loading them
    (and their measures, once per sensor) as ORM objects cost 20 ms of the request's CPU."""
    rows = session.execute(_SENSOR_KEYS, {"uids": list(unique_identifiers)})
    return {unique_identifier: (id_, type_id) for unique_identifier, id_, type_id in rows}


def measures_of_types(
    session: Session, *, type_ids: Collection[int]
) -> dict[int, list[SensorMeasure]]:
    """`measures_of_type` of each of these types, in one query."""
    found: dict[int, list[SensorMeasure]] = {type_id: [] for type_id in type_ids}
    rows = session.execute(
        select(SensorTypeMeasure.type_id, SensorMeasure)
        .join(SensorTypeMeasure, SensorTypeMeasure.measure_id == SensorMeasure.id)
        .where(SensorTypeMeasure.type_id == func.any(bindparam("type_ids")))
        .order_by(SensorTypeMeasure.id),
        {"type_ids": list(type_ids)},
    )
    for type_id, measure in rows:
        found[type_id].append(measure)
    return found


def measure_of_sensor(
    session: Session,
    *,
    type_id: int,
    name: str,
    units: str | Unset | None = UNSET,
    measures: Sequence[SensorMeasure] | None = None,
) -> SensorMeasure:
    """The measure of the sensor's type (`type_id`) with this name (and these units, if
    given); `measures` are the type's, if already known."""
    if measures is None:
        measures = measures_of_type(session, type_id=type_id)
    matches = _named(measures, name, units)
    if len(matches) == 1:
        return matches[0]
    if matches:
        choices = ", ".join(_describe(m.name, m.units) for m in matches)
        raise InvalidInput(
            f"The sensor's type has {len(matches)} measures named '{name}': {choices}; "
            "pick one with measure_units"
        )
    sensor_type = session.get_one(SensorType, type_id)
    wanted = f"'{name}'" if isinstance(units, Unset) else _describe(name, units)
    known = ", ".join(_describe(m.name, m.units) for m in measures) or "none"
    raise InvalidInput(
        f"Sensor type '{sensor_type.name}' has no measure {wanted}; its measures are: {known}"
    )


def _named(
    measures: Sequence[SensorMeasure], name: str, units: str | Unset | None
) -> list[SensorMeasure]:
    return [
        measure
        for measure in measures
        if measure.name == name and (isinstance(units, Unset) or measure.units == units)
    ]


def insert_sensor_readings(
    session: Session,
    *,
    unique_identifier: str,
    measure_name: str,
    measure_units: str | Unset | None = UNSET,
    readings: Sequence[Scalar],
    timestamps: Sequence[datetime],
    overwrite: bool = False,
) -> None:
    """insert-sensor-readings: find the sensor and its measure, then store the readings."""
    sensor, measures = sensor_and_measures(session, unique_identifier=unique_identifier)
    measure = measure_of_sensor(
        session, type_id=sensor.type_id, name=measure_name, units=measure_units, measures=measures
    )
    insert_readings(
        session,
        sensor_id=sensor.id,
        measure=measure,
        timestamps=timestamps,
        values=readings,
        overwrite=overwrite,
    )


def insert_readings(
    session: Session,
    *,
    sensor_id: int,
    measure: SensorMeasure,
    timestamps: Sequence[datetime],
    values: Sequence[Scalar],
    overwrite: bool = False,
) -> None:
    """Store one sensor's readings of one measure (see `ingest`).

    Every value must fit the measure's datatype (422 naming its index), checked before
    anything is written. Readings already stored for the same (sensor, measure,
    timestamp), or repeated in `timestamps`, are skipped (the first one stays), unless
    `overwrite`: then the last one given replaces the stored one.
    """
    insert_series(
        session,
        [Series(sensor_id=sensor_id, measure=measure, timestamps=timestamps, values=values)],
        overwrite=overwrite,
    )


@dataclass(frozen=True)
class Series:
    """Readings of one sensor's measure, to store; `loc` names them in a 422."""

    sensor_id: int
    measure: SensorMeasure
    timestamps: Sequence[datetime]
    values: Sequence[Scalar]
    loc: tuple[str | int, ...] = ("readings",)


def insert_series(session: Session, series: Sequence[Series], *, overwrite: bool = False) -> None:
    """Check every value of every series, then store them in one statement per datatype."""
    by_datatype: dict[ValueDatatype, list[Series]] = {}
    for item in series:
        if len(item.values) != len(item.timestamps):
            raise Unprocessable(
                list(item.loc),
                f"{len(item.values)} readings but {len(item.timestamps)} timestamps: "
                "give one timestamp per reading",
                len(item.values),
            )
        by_datatype.setdefault(item.measure.datatype, []).append(item)
    # One fixed order of datatypes: concurrent requests take their locks in one order.
    written = 0
    for datatype in sorted(by_datatype):
        items = by_datatype[datatype]
        written += ingest.insert_series(
            session,
            table="sensor_reading",
            prefix_keys=("sensor_id", "measure_id"),
            datatype=datatype,
            series=[
                ingest.Rows((item.sensor_id, item.measure.id), item.timestamps, values)
                for item, values in zip(items, _checked(datatype, items), strict=True)
            ],
            overwrite=overwrite,
        )
    # A request that wrote nothing (all already stored) is no news: no event. Which of its
    # sensors got new readings is not counted (it would cost ingest), so when some did,
    # every sensor it names has its event (docs/events.md).
    if written:
        record_readings(session, _stored_per_sensor(series))


def _checked(datatype: ValueDatatype, items: Sequence[Series]) -> list[list[Scalar]]:
    """Each series' values as stored, checked against the datatype in one pass over them
    all (a thousand series of a few readings each cost a thousand calls); a bad one is
    the 422 of its series and place."""
    try:
        values = check_values(datatype, [value for item in items for value in item.values])
    except ValueListError:
        for item in items:
            try:
                check_values(datatype, item.values)
            except ValueListError as error:
                raise Unprocessable([*item.loc, error.index], error.reason, error.value) from error
        raise
    checked: list[list[Scalar]] = []
    end = 0
    for item in items:
        start, end = end, end + len(item.values)
        checked.append(values[start:end])
    return checked


def _stored_per_sensor(series: Sequence[Series]) -> list[ReadingsStored]:
    """Each sensor's readings in the request: measures, first and last time, count."""
    stored: dict[int, ReadingsStored] = {}
    for item in series:
        if not item.timestamps:
            continue
        first, last = min(item.timestamps), max(item.timestamps)
        name = item.measure.name
        seen = stored.get(item.sensor_id)
        if seen is None:  # mostly: a sensor's measures come one series each
            stored[item.sensor_id] = ReadingsStored(
                item.sensor_id, [name], first, last, len(item.timestamps)
            )
            continue
        stored[item.sensor_id] = ReadingsStored(
            item.sensor_id,
            seen.measures if name in seen.measures else [*seen.measures, name],
            min(seen.first, first),
            max(seen.last, last),
            seen.readings + len(item.timestamps),
        )
    return list(stored.values())


def find_series(
    session: Session,
    *,
    unique_identifier: str,
    measure_name: str,
    measure_units: str | Unset | None = UNSET,
) -> tuple[Sensor, SensorMeasure] | None:
    """The sensor and its measure to read, or None when there is nothing to read (unknown
    sensor, or a measure that exists but not for this sensor's type); a measure that does
    not exist at all, or is ambiguous, is an error."""
    sensor = find_sensor(session, unique_identifier=unique_identifier)
    if sensor is None:
        return None
    measures = measures_of_type(session, type_id=sensor.type_id)
    if not _named(measures, measure_name, measure_units):
        query = select(SensorMeasure.id).where(SensorMeasure.name == measure_name)
        if not isinstance(measure_units, Unset):
            query = query.where(_same_units(measure_units))
        if session.scalars(query.limit(1)).first() is None:
            raise InvalidInput(NO_SUCH_MEASURE)
        return None
    measure = measure_of_sensor(
        session, type_id=sensor.type_id, name=measure_name, units=measure_units
    )
    return sensor, measure


# Location history


def insert_sensor_location(
    session: Session,
    *,
    unique_identifier: str,
    schema_name: str,
    coordinates: dict[str, Scalar],
    installation_datetime: datetime,
) -> SensorLocation:
    """Install the sensor at the first location of the schema matching the coordinates."""
    sensor = get_sensor(session, unique_identifier=unique_identifier)
    location_ids = locations_store.match_location_ids(
        session, schema_name=schema_name, coordinates=coordinates
    )
    if not location_ids:
        raise InvalidInput(locations_store.NO_LOCATION)
    installation = SensorLocation(
        sensor_id=sensor.id,
        location_id=min(location_ids),
        installation_datetime=installation_datetime,
    )
    try:
        with session.begin_nested():
            session.add(installation)
    except IntegrityError as error:
        raise AlreadyExists("Sensor location exists already") from error
    return installation


def sensor_locations(session: Session, *, unique_identifier: str) -> list[dict[str, Any]]:
    """The sensor's location history, newest first: `{"id", <coordinates>...,
    "installation_datetime"}` each. An unknown sensor has none."""
    sensor = find_sensor(session, unique_identifier=unique_identifier)
    if sensor is None:
        return []
    installations = session.scalars(
        select(SensorLocation)
        .where(SensorLocation.sensor_id == sensor.id)
        .order_by(SensorLocation.installation_datetime.desc())
    ).all()
    coordinates = locations_store.coordinates_of(
        session, location_ids=sorted({row.location_id for row in installations})
    )
    return [
        {
            "id": row.location_id,
            **coordinates.get(row.location_id, {}),
            "installation_datetime": row.installation_datetime,
        }
        for row in installations
    ]
