"""Time series SQL: bulk ingest with COPY, streamed reads, downsampling in SQL.

Storage choices
---------------
* **One table per kind of series, typed value columns.** Readings live in `sensor_reading`
  and model values in `model_value`, each with one nullable column per datatype
  (`value_float`, `value_integer`, `value_string`, `value_boolean`; a CHECK says exactly one
  is set). The datatype belongs to the measure, so the column is known before a query
  runs: one write path (COPY), one index and one query per read, and the unused columns
  cost one bit each in the null bitmap. DTBase's one table per datatype needed four of all.
* **Primary key (sensor_id, measure_id, timestamp)**, in that order. It is the only index:
  a read of one sensor's measure over a window is one range scan of the key, already in
  timestamp order (no sort, no second index to maintain at ingest). Leading with sensor_id
  makes the table distributable by sensor (Citus `create_distributed_table('sensor_reading',
  'sensor_id')`): every statement here filters or groups on one sensor, so it runs on one
  shard. Model values use (product_id, timestamp) the same way.
* **Ingest** COPYs the rows (binary) into a temporary staging table of the same
  transaction, then moves them with one `INSERT ... SELECT ... ORDER BY key ON CONFLICT`:
  duplicates of a key are skipped (the first given stays), or overwrite with
  `overwrite=True` (the last given wins). Rows reach the index in key order, which also
  makes concurrent writers take their row locks in the same order: they wait for one
  another but never deadlock. A request is one transaction: it stores all or nothing.
* **Downsampling** groups the key range scan with `date_bin` into buckets aligned on the
  Unix epoch, so buckets of one width are the same whatever window is asked for.
  (A rollup table of per-bucket count/sum/min/max/first/last at a few fixed widths,
  maintained at ingest, is the next step for windows over tens of millions of rows.)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from psycopg import Connection, sql
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dtbase.backend.sensors.ingest import driver_connection
from dtbase.backend.values import VALUE_COLUMNS
from dtbase.schemas.sensors import Aggregate
from dtbase.schemas.values import ValueDatatype

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CHUNK_ROWS = 20_000

NUMERIC = frozenset({ValueDatatype.float, ValueDatatype.integer})
ORDERED_ONLY: frozenset[Aggregate] = frozenset({"first", "last", "count"})


# Reads


def _select_readings(datatype: ValueDatatype) -> sql.Composed:
    return sql.SQL(
        'SELECT "timestamp", {} FROM sensor_reading WHERE sensor_id = %s AND measure_id = %s'
        ' AND "timestamp" >= %s AND "timestamp" <= %s ORDER BY "timestamp"'
    ).format(sql.Identifier(VALUE_COLUMNS[datatype]))


def stream_readings_json(
    engine: Engine,
    *,
    sensor_id: int,
    measure_id: int,
    datatype: ValueDatatype,
    dt_from: datetime,
    dt_to: datetime,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[bytes]:
    """The readings as one JSON array `[{"value", "timestamp"}...]`, in pieces.

    A server-side cursor fetches `chunk_rows` at a time, so memory is bounded by the
    chunk, not by the window.
    """
    with engine.connect() as outer:
        connection = outer.connection.driver_connection
        assert isinstance(connection, Connection)
        with connection.cursor(name="dt_readings") as cursor:
            cursor.execute(_select_readings(datatype), (sensor_id, measure_id, dt_from, dt_to))
            separator = b"["
            while rows := cursor.fetchmany(chunk_rows):
                encoded = orjson.dumps(
                    [{"value": value, "timestamp": stamp} for stamp, value in rows],
                    option=orjson.OPT_UTC_Z,
                )
                yield separator + encoded[1:-1]
                separator = b","
            yield b"[]" if separator == b"[" else b"]"
        outer.rollback()


def iter_readings(
    engine: Engine,
    *,
    sensor_id: int,
    measure_id: int,
    datatype: ValueDatatype,
    dt_from: datetime,
    dt_to: datetime,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[list[tuple[datetime, Any]]]:
    """(timestamp, value) rows in timestamp order, a chunk at a time (server-side cursor)."""
    with engine.connect() as outer:
        connection = outer.connection.driver_connection
        assert isinstance(connection, Connection)
        with connection.cursor(name="dt_export") as cursor:
            cursor.execute(_select_readings(datatype), (sensor_id, measure_id, dt_from, dt_to))
            while rows := cursor.fetchmany(chunk_rows):
                yield rows
        outer.rollback()


def _csv_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if not isinstance(value, float) else repr(value)


def _utc_text(stamp: datetime) -> str:
    return stamp.astimezone(UTC).isoformat().replace("+00:00", "Z")


def csv_chunks(chunks: Iterable[list[tuple[datetime, Any]]]) -> Iterator[bytes]:
    """CSV rows `timestamp,value` (RFC 4180 quoting), one piece per chunk."""
    for rows in chunks:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerows((_utc_text(stamp), _csv_value(value)) for stamp, value in rows)
        yield buffer.getvalue().encode()


def ndjson_chunks(chunks: Iterable[list[tuple[datetime, Any]]]) -> Iterator[bytes]:
    """One JSON object `{"value", "timestamp"}` per line, one piece per chunk."""
    for rows in chunks:
        yield b"".join(
            orjson.dumps(
                {"value": value, "timestamp": stamp},
                option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE,
            )
            for stamp, value in rows
        )


def bucket_width(
    *, dt_from: datetime, dt_to: datetime, max_points: int | None, bucket_seconds: int | None
) -> timedelta:
    """The bucket width: `bucket_seconds`, widened if need be so that the epoch-aligned
    buckets touching [dt_from, dt_to] are at most `max_points`."""
    width = timedelta(seconds=bucket_seconds) if bucket_seconds is not None else timedelta(0)
    if max_points is not None:
        span_us = max((dt_to - dt_from) // timedelta(microseconds=1), 0)
        # floor(span / w) + 2 buckets at most touch the window when it is not aligned.
        needed = timedelta(microseconds=span_us // (max_points - 1) + 1)
        width = max(width, needed)
    return width


def downsample(
    session: Session,
    *,
    sensor_id: int,
    measure_id: int,
    datatype: ValueDatatype,
    dt_from: datetime,
    dt_to: datetime,
    width: timedelta,
    aggregate: Aggregate,
) -> list[dict[str, Any]]:
    """One item per non-empty bucket, oldest first: `{"timestamp": bucket start, "value":
    aggregate, "min", "max" (numbers only), "count"}`."""
    column = sql.Identifier(VALUE_COLUMNS[datatype])
    numeric = datatype in NUMERIC
    chosen = {
        "avg": sql.SQL("avg({})"),
        "min": sql.SQL("min({})"),
        "max": sql.SQL("max({})"),
        "count": sql.SQL("count(*)"),
        "first": sql.SQL('(array_agg({} ORDER BY "timestamp"))[1]'),
        "last": sql.SQL('(array_agg({} ORDER BY "timestamp" DESC))[1]'),
    }[aggregate].format(column)
    envelope = sql.SQL("min({0}), max({0})").format(column) if numeric else sql.SQL("NULL, NULL")
    query = sql.SQL(
        'SELECT date_bin(%s, "timestamp", %s) AS bucket, {}, {}, count(*) FROM sensor_reading'
        ' WHERE sensor_id = %s AND measure_id = %s AND "timestamp" >= %s AND "timestamp" <= %s'
        " GROUP BY bucket ORDER BY bucket"
    ).format(chosen, envelope)
    with driver_connection(session).cursor() as cursor:
        cursor.execute(query, (width, EPOCH, sensor_id, measure_id, dt_from, dt_to))
        rows = cursor.fetchall()
    items: list[dict[str, Any]] = []
    for bucket, value, low, high, count in rows:
        if aggregate == "avg":
            value = float(value)  # numeric for integers
        item: dict[str, Any] = {"timestamp": bucket, "value": value}
        if numeric:
            item["min"], item["max"] = low, high
        item["count"] = count
        items.append(item)
    return items
