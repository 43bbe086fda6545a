"""Bulk ingest of time series with set-based SQL (storage choices: see `timeseries`).

Semantics, whatever the caller:
* rows go into the table in key order (ties in the order given), so concurrent writers
  take their row locks in the same order: they may wait for one another, never deadlock;
* a key already stored, or repeated in the request, is skipped (the first given stays),
  unless `overwrite`: then the last one given replaces what is stored;
* it runs inside the caller's transaction: all rows or none.

How: the values arrive as Python lists, which psycopg dumps as binary arrays in C, one
parameter per column; `unnest` turns them back into rows on the server, where one
statement sorts them and inserts them. (The earlier path COPYed rows into a temporary
staging table first: the same semantics, but `write_row` in Python for every row, three
more statements per request and every row written twice.)

Most requests bring readings newer than any stored (or for an empty series): nothing can
conflict, and a plain INSERT costs half of what INSERT ... ON CONFLICT does (no
speculative insertion, one WAL record per row fewer). So the first statement inserts only
if no stored row lies within the time span of any series of the request (an index probe
per series), inside a savepoint. If one does, or a concurrent writer stored one of our
keys meanwhile (a unique violation), the same rows go through ON CONFLICT instead.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Connection, errors, sql
from sqlalchemy.orm import Session

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
) -> None:
    """Store the series' values into `table`, keyed by (*prefix_keys, "timestamp").

    Values must already be checked against `datatype` (`check_values`).
    """
    series = [rows for rows in series if rows.timestamps]
    if not series:
        return
    if any(len(rows.prefix) != len(prefix_keys) for rows in series):
        raise ValueError("each series needs one prefix value per prefix key")
    if any(len(rows.values) != len(rows.timestamps) for rows in series):
        raise ValueError("each series needs one timestamp per value")
    fresh, merge = _statements(table, tuple(prefix_keys), datatype, overwrite)
    # Per series: its prefix, where its rows lie in the arrays (1-based, inclusive) and
    # its time span; the timestamps and values of all series follow, concatenated.
    per_series: list[list[Any]] = [[] for _ in range(len(prefix_keys) + 4)]
    timestamps: list[datetime] = []
    values: list[Scalar] = []
    for rows in series:
        for position, key in enumerate(rows.prefix):
            per_series[position].append(key)
        per_series[-4].append(len(timestamps) + 1)
        timestamps.extend(rows.timestamps)
        values.extend(rows.values)
        per_series[-3].append(len(timestamps))
        per_series[-2].append(min(rows.timestamps))
        per_series[-1].append(max(rows.timestamps))
    params = [*per_series, timestamps, values]
    connection = driver_connection(session)
    with connection.cursor() as cursor:
        try:
            with connection.transaction():
                cursor.execute(fresh, params)
                inserted = cursor.rowcount
        except errors.UniqueViolation:
            inserted = 0
        if inserted == 0:
            cursor.execute(merge, params)


@functools.cache
def _statements(
    table: str, prefix_keys: tuple[str, ...], datatype: ValueDatatype, overwrite: bool
) -> tuple[bytes, bytes]:
    """The plain INSERT and the ON CONFLICT one, composed once (plain identifiers only:
    no connection is needed to quote them)."""
    statements = _Statements(table, prefix_keys, datatype)
    return statements.fresh(overwrite).as_bytes(None), statements.merge(overwrite).as_bytes(None)


class _Statements:
    """The two INSERTs for one table and datatype.

    `s` has one row per series (prefix `p0`..., slice `head`:`tail`, span `lo`..`hi`),
    `u` one per value (timestamp `t`, value `v`, position `n` in its series).
    """

    def __init__(self, table: str, prefix_keys: Sequence[str], datatype: ValueDatatype) -> None:
        self.table = sql.Identifier(table)
        self.prefix_keys = [sql.Identifier(key) for key in prefix_keys]
        self.value_column = sql.Identifier(VALUE_COLUMNS[datatype])
        self.prefix = [sql.Identifier(f"p{index}") for index in range(len(prefix_keys))]
        series_columns = [*self.prefix, *map(sql.Identifier, ("head", "tail", "lo", "hi"))]
        series_types = [
            *(["int4"] * len(prefix_keys)),
            "int4",
            "int4",
            "timestamptz",
            "timestamptz",
        ]
        self.series = sql.SQL("WITH s AS (SELECT * FROM unnest({}) AS s({})) ").format(
            _arrays(series_types), _join(series_columns)
        )
        self.datatype = datatype

    def _insert(self, guard: sql.Composable, overwrite: bool) -> sql.Composed:
        """Insert the request's rows (if `guard`), one per key (the first given, or the
        last if `overwrite`), in key order."""
        keys = _join([*self.prefix, sql.Identifier("t")])
        return sql.SQL(
            "{series}INSERT INTO {table} ({columns}) "
            "SELECT DISTINCT ON ({keys}) {keys}, v FROM s CROSS JOIN LATERAL unnest("
            "({timestamps})[s.head:s.tail], ({values})[s.head:s.tail]"
            ") WITH ORDINALITY AS u(t, v, n) "
            "{guard}ORDER BY {keys}, s.head + n {direction} "
        ).format(
            series=self.series,
            table=self.table,
            columns=_join([*self.prefix_keys, sql.Identifier("timestamp"), self.value_column]),
            keys=keys,
            timestamps=_arrays(["timestamptz"]),
            values=_arrays([VALUE_TYPES[self.datatype]]),
            guard=guard,
            direction=sql.SQL("DESC" if overwrite else "ASC"),
        )

    def fresh(self, overwrite: bool) -> sql.Composed:
        """Insert unless a stored row lies within the time span of one of the series."""
        prefix_match = sql.SQL(" AND ").join(
            sql.SQL("r.{} = b.{}").format(key, name)
            for key, name in zip(self.prefix_keys, self.prefix, strict=True)
        )
        guard = sql.SQL(
            "WHERE NOT EXISTS (SELECT FROM s AS b WHERE EXISTS (SELECT FROM {table} r "
            'WHERE {prefix_match} AND r."timestamp" BETWEEN b.lo AND b.hi)) '
        ).format(table=self.table, prefix_match=prefix_match)
        return self._insert(guard, overwrite)

    def merge(self, overwrite: bool) -> sql.Composed:
        """Insert, skipping stored keys or (`overwrite`) replacing their values."""
        action: sql.Composable = sql.SQL("ON CONFLICT DO NOTHING")
        if overwrite:
            # DISTINCT ON above: DO UPDATE may not touch one row twice in a statement.
            action = sql.SQL(
                "ON CONFLICT ({keys}) DO UPDATE SET {value} = EXCLUDED.{value}"
            ).format(
                keys=_join([*self.prefix_keys, sql.Identifier("timestamp")]),
                value=self.value_column,
            )
        return sql.SQL("{insert}{action}").format(
            insert=self._insert(sql.SQL(""), overwrite), action=action
        )


def _join(parts: Sequence[sql.Composable]) -> sql.Composed:
    return sql.SQL(", ").join(parts)


def _arrays(pg_types: Sequence[str]) -> sql.Composed:
    """Binary array parameters of these element types."""
    return _join([sql.SQL("%b::{}[]").format(sql.SQL(pg_type)) for pg_type in pg_types])
