"""Recording events, in the transaction of the write they report.

Call it as the write's LAST statement: the first event a transaction inserts takes the
lock that keeps ids in commit order (migration 0015), held until the commit, so anything
after it lengthens the time other writers wait.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from psycopg.types.json import Jsonb
from sqlalchemy import Integer, bindparam, insert, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from dtbase.backend.events.tables import Event
from dtbase.backend.timeseries.ingest import driver_connection
from dtbase.schemas.events import EventKind


def record(session: Session, kind: EventKind, meta: Mapping[str, Any]) -> None:
    record_many(session, [(kind, meta)])


def record_many(session: Session, events: Sequence[tuple[EventKind, Mapping[str, Any]]]) -> None:
    """All `events` in one INSERT (the triggers run once per statement)."""
    if not events:
        return
    rows = [{"kind": kind.value, "meta": dict(meta)} for kind, meta in events]
    session.execute(insert(Event).values(rows))


def iso(time: datetime) -> str:
    """A time as events hold it: ISO 8601 in UTC with a `Z`, as on the wire."""
    return time.astimezone(UTC).isoformat().replace("+00:00", "Z")


# Events whose names the database knows better than the writer: built by one INSERT ...
# SELECT joining what they name, so they cost the write no extra query. The readings' one
# is on every ingest request, one row per sensor (a bulk request from a fleet names a
# thousand): the writer sends two JSON arrays, encoded by orjson in C (psycopg dumps a
# list parameter element by element in Python), the sensors' ids and the rest of each
# meta, times and all; they are zipped back into rows by position and the database adds
# the names with one concatenation per row. Measured for 1,000 sensors (CPU): about 1.4 ms
# in Python and 5 ms in PostgreSQL, against 5 and 6 ms when Python formatted the times
# and encoded the items with `json`, and the database took each sensor's id out of its
# object again (and 7 ms more to gather the items, in `sensors.store`). It goes over the
# psycopg connection itself, as ingest sends its rows (~0.17 ms of it is replanning after
# ingest's `session_replication_role` switch, see `timeseries.foreign_keys`).
_READINGS_STORED = (
    "INSERT INTO event (kind, meta)"
    " SELECT %s, jsonb_build_object('sensor', s.unique_identifier, 'sensor_type', t.name)"
    " || r.meta"
    " FROM ROWS FROM (jsonb_array_elements_text(%s), jsonb_array_elements(%s))"
    " WITH ORDINALITY AS r(sensor_id, meta, n)"
    " JOIN sensor s ON s.id = r.sensor_id::int4"
    " JOIN sensor_type t ON t.id = s.type_id"
    " ORDER BY r.n"
)


class ReadingsStored(NamedTuple):
    """What a request stored for one sensor: its measures' names, the first and last
    timestamp, and how many readings the request gave for it."""

    sensor_id: int
    measures: Sequence[str]
    first: datetime
    last: datetime
    readings: int


def _dumps(items: Any) -> bytes:
    # Times as `iso` writes them (UTC, `Z`): they are made UTC first.
    return orjson.dumps(items, option=orjson.OPT_UTC_Z)


def record_readings(session: Session, stored: Sequence[ReadingsStored]) -> None:
    """One `readings.stored` event per item, in one statement."""
    if not stored:
        return
    metas = [
        {
            "measure": list(item.measures),
            "first": item.first.astimezone(UTC),
            "last": item.last.astimezone(UTC),
            "count": item.readings,
        }
        for item in stored
    ]
    sensor_ids = [item.sensor_id for item in stored]
    with driver_connection(session).cursor() as cursor:
        cursor.execute(
            _READINGS_STORED,
            (
                EventKind.readings_stored.value,
                Jsonb(sensor_ids, dumps=orjson.dumps),
                Jsonb(metas, dumps=_dumps),
            ),
        )


_SERVICE_RUNS_FINISHED = text(
    "INSERT INTO event (kind, meta)"
    " SELECT :kind, jsonb_build_object('service', s.name, 'run', r.id,"
    " 'status', r.status::text, 'parameter_set', p.name)"
    " FROM service_run_log r JOIN service s ON s.id = r.service_id"
    " LEFT JOIN service_parameter_set p ON p.id = r.parameter_set_id"
    " WHERE r.id = ANY(:run_ids) ORDER BY r.id"
).bindparams(bindparam("run_ids", type_=ARRAY(Integer)), kind=EventKind.service_run_finished.value)


def record_service_runs(session: Session, run_ids: Collection[int]) -> None:
    """One `service_run.finished` event per run (its status as logged), in one statement."""
    if run_ids:
        session.execute(_SERVICE_RUNS_FINISHED, {"run_ids": sorted(run_ids)})
