"""Bulk ingest of time series: readings and model values (storage choices: see
`dtbase.backend.timeseries`).

Semantics, whatever the caller:
* rows go into the table in key order (ties in the order given), so concurrent writers
  take their row locks in the same order: they may wait for one another, never deadlock;
* a key already stored, or repeated in the request, is skipped (the first given stays),
  unless `overwrite`: then the last one given replaces what is stored;
* it runs inside the caller's transaction: all rows or none.

Two ways in, picked per request:
* COPY, for the usual request: readings newer than any stored (or for an empty series),
  each series in time order without repeats, no two series of one key prefix (the series
  may come in any order: they are sorted by prefix). A probe first checks that no stored row lies
  within the time span of any series (an index probe per series); then nothing can
  conflict, and COPY is the fastest way PostgreSQL has to add rows (it writes them a page
  at a time: 10,000 readings go in about 10% faster than with an INSERT). If a
  concurrent writer stored one of our keys meanwhile (a unique violation), the COPY's
  savepoint is rolled back and the rows take the second way.
* INSERT ... ON CONFLICT, for everything else (overlaps, repeats, any order). The values
  arrive as Python lists, which psycopg dumps as binary arrays in C, one parameter per
  column; `unnest` turns them back into rows on the server, where one statement sorts
  them, drops repeated keys and inserts them.

Either way, a request of at least a few hundred rows has the table's foreign keys
checked once for all its rows rather than once per row (`foreign_keys`).
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any

from psycopg import Connection, Cursor, errors, sql
from sqlalchemy.orm import Session

from dtbase.backend.timeseries import foreign_keys
from dtbase.backend.values import VALUE_COLUMNS
from dtbase.schemas.values import Scalar, ValueDatatype

# PostgreSQL array element type of each typed value column.
VALUE_TYPES = {
    ValueDatatype.float: "float8",
    ValueDatatype.integer: "int8",
    ValueDatatype.string: "text",
    ValueDatatype.boolean: "bool",
}


@dataclass(frozen=True)
class Rows:
    """Values of one series: `prefix` holds its integer key columns before the timestamp
    (e.g. sensor and measure ids); timestamps are timezone-aware."""

    prefix: tuple[int, ...]
    timestamps: Sequence[datetime]
    values: Sequence[Scalar]


def driver_connection(session: Session) -> Connection[Any]:
    """The psycopg connection under the session, inside the session's transaction."""
    connection = session.connection().connection.driver_connection
    if not isinstance(connection, Connection):
        raise TypeError("dtbase needs the psycopg 3 driver")
    return connection


def insert_series(
    session: Session,
    *,
    table: str,
    prefix_keys: Sequence[str],
    datatype: ValueDatatype,
    series: Sequence[Rows],
    overwrite: bool = False,
) -> int:
    """Store the series' values into `table`, keyed by (*prefix_keys, "timestamp"); how
    many rows were written (added, or replaced with `overwrite`), for free: the COPY
    writes all, and the INSERT's row count says.

    Values must already be checked against `datatype` (`check_values`).
    """
    # In key order of their prefixes (a stable sort: repeated keys keep the order given),
    # so that a request naming its series in any order can take the COPY: a bulk request
    # from the MQTT bridge names its sensors in the order their messages arrived.
    series = sorted((rows for rows in series if rows.timestamps), key=operator.attrgetter("prefix"))
    if not series:
        return 0
    if any(len(rows.prefix) != len(prefix_keys) for rows in series):
        raise ValueError("each series needs one prefix value per prefix key")
    if any(len(rows.values) != len(rows.timestamps) for rows in series):
        raise ValueError("each series needs one timestamp per value")
    statements = _statements(table, tuple(prefix_keys), datatype, overwrite)
    connection = driver_connection(session)
    prefixes = [rows.prefix for rows in series]
    total = sum(len(rows.timestamps) for rows in series)
    with (
        connection.cursor() as cursor,
        foreign_keys.checked_once(session, cursor, table, prefix_keys, prefixes, total),
    ):
        if _in_key_order(series) and not _stored_within(cursor, statements, series):
            # Not released after: COMMIT ends it, and that saves a round trip.
            cursor.execute(b"SAVEPOINT dtbase_copy")
            try:
                with cursor.copy(statements.copy) as copy:
                    copy.set_types(statements.copy_types)
                    for rows in series:
                        # The prefix repeats forever: the series' own lengths end the rows.
                        prefix = map(repeat, rows.prefix)
                        for row in zip(*prefix, rows.timestamps, rows.values, strict=False):
                            copy.write_row(row)
                return total
            except errors.UniqueViolation:
                # A concurrent writer stored one of these keys first.
                cursor.execute(b"ROLLBACK TO SAVEPOINT dtbase_copy")
        cursor.execute(statements.merge, _arrays_of(series, len(prefix_keys)))
        return cursor.rowcount


def _in_key_order(series: Sequence[Rows]) -> bool:
    """Whether the rows, series after series, are in strictly increasing key order."""
    prefixes = [rows.prefix for rows in series]
    return all(map(operator.lt, prefixes, prefixes[1:])) and all(
        all(map(operator.lt, rows.timestamps, itertools.islice(rows.timestamps, 1, None)))
        for rows in series
    )


def _stored_within(cursor: Cursor[Any], statements: Statements, series: Sequence[Rows]) -> bool:
    """Whether a stored row lies within the time span of one of the (ordered) series."""
    columns = [list(column) for column in zip(*(rows.prefix for rows in series), strict=True)]
    spans = [[rows.timestamps[0] for rows in series], [rows.timestamps[-1] for rows in series]]
    cursor.execute(statements.probe, [*columns, *spans])
    found = cursor.fetchone()
    return bool(found and found[0])


def _arrays_of(series: Sequence[Rows], prefix_length: int) -> list[list[Any]]:
    """The parameters of `Statements.merge`: one array per column of its `s`, then the
    timestamps and values of all series, concatenated."""
    per_series: list[list[Any]] = [[] for _ in range(prefix_length + 2)]
    timestamps: list[datetime] = []
    values: list[Scalar] = []
    for rows in series:
        for position, key in enumerate(rows.prefix):
            per_series[position].append(key)
        per_series[-2].append(len(timestamps) + 1)
        timestamps.extend(rows.timestamps)
        values.extend(rows.values)
        per_series[-1].append(len(timestamps))
    return [*per_series, timestamps, values]


@dataclass(frozen=True)
class Statements:
    """What ingest sends for one table, datatype and `overwrite`."""

    probe: bytes
    copy: bytes
    copy_types: list[str]
    merge: bytes


@functools.cache
def _statements(
    table: str, prefix_keys: tuple[str, ...], datatype: ValueDatatype, overwrite: bool
) -> Statements:
    """Composed once (plain identifiers only: no connection is needed to quote them)."""
    prefix = [sql.Identifier(f"p{index}") for index in range(len(prefix_keys))]
    keys = [sql.Identifier(key) for key in prefix_keys]
    columns = _join([*keys, sql.Identifier("timestamp"), sql.Identifier(VALUE_COLUMNS[datatype])])
    prefix_types = ["int4"] * len(prefix_keys)
    return Statements(
        probe=_probe(table, keys, prefix, prefix_types).as_bytes(None),
        copy=sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)")
        .format(sql.Identifier(table), columns)
        .as_bytes(None),
        copy_types=[*prefix_types, "timestamptz", VALUE_TYPES[datatype]],
        merge=_merge(table, keys, prefix, prefix_types, columns, datatype, overwrite).as_bytes(
            None
        ),
    )


def _probe(
    table: str, keys: list[sql.Identifier], prefix: list[sql.Identifier], prefix_types: list[str]
) -> sql.Composed:
    """Whether a stored row lies in one of the spans `lo`..`hi` (one index probe each)."""
    match = sql.SQL(" AND ").join(
        sql.SQL("r.{} = b.{}").format(key, name) for key, name in zip(keys, prefix, strict=True)
    )
    return sql.SQL(
        "SELECT EXISTS (SELECT FROM unnest({arrays}) AS b({names}) WHERE EXISTS ("
        'SELECT FROM {table} r WHERE {match} AND r."timestamp" BETWEEN b.lo AND b.hi))'
    ).format(
        arrays=_arrays([*prefix_types, "timestamptz", "timestamptz"]),
        names=_join([*prefix, sql.Identifier("lo"), sql.Identifier("hi")]),
        table=sql.Identifier(table),
        match=match,
    )


def _merge(
    table: str,
    keys: list[sql.Identifier],
    prefix: list[sql.Identifier],
    prefix_types: list[str],
    columns: sql.Composed,
    datatype: ValueDatatype,
    overwrite: bool,
) -> sql.Composed:
    """Insert the rows in key order, one per key (the first given, or the last if
    `overwrite`), skipping stored keys or (`overwrite`) replacing their values.

    `s` has one row per series (prefix `p0`..., slice `head`:`tail` of the arrays), `u`
    one per value (timestamp `t`, value `v`, position `n` in its series).
    """
    value = sql.Identifier(VALUE_COLUMNS[datatype])
    action: sql.Composable = sql.SQL("ON CONFLICT DO NOTHING")
    if overwrite:
        # DISTINCT ON: DO UPDATE may not touch one row twice in a statement.
        action = sql.SQL("ON CONFLICT ({keys}) DO UPDATE SET {value} = EXCLUDED.{value}").format(
            keys=_join([*keys, sql.Identifier("timestamp")]), value=value
        )
    ordered = _join([*prefix, sql.Identifier("t")])
    return sql.SQL(
        "WITH s AS (SELECT * FROM unnest({series}) AS s({series_names})) "
        "INSERT INTO {table} ({columns}) "
        "SELECT DISTINCT ON ({ordered}) {ordered}, v FROM s CROSS JOIN LATERAL unnest("
        "({timestamps})[s.head:s.tail], ({values})[s.head:s.tail]"
        ") WITH ORDINALITY AS u(t, v, n) "
        "ORDER BY {ordered}, s.head + n {direction} {action}"
    ).format(
        series=_arrays([*prefix_types, "int4", "int4"]),
        series_names=_join([*prefix, sql.Identifier("head"), sql.Identifier("tail")]),
        table=sql.Identifier(table),
        columns=columns,
        ordered=ordered,
        timestamps=_arrays(["timestamptz"]),
        values=_arrays([VALUE_TYPES[datatype]]),
        direction=sql.SQL("DESC" if overwrite else "ASC"),
        action=action,
    )


def _join(parts: Sequence[sql.Composable]) -> sql.Composed:
    return sql.SQL(", ").join(parts)


def _arrays(pg_types: Sequence[str]) -> sql.Composed:
    """Binary array parameters of these element types."""
    return _join([sql.SQL("%b::{}[]").format(sql.SQL(pg_type)) for pg_type in pg_types])
