"""Time series SQL: streamed reads, export, downsampling in SQL over rollups.

Storage choices
---------------
* **One table per kind of series, typed value columns.** Readings live in `sensor_reading`
  and model values in `model_value`, each with one nullable column per datatype
  (`value_float`, `value_integer`, `value_string`, `value_boolean`; a CHECK says exactly one
  is set). The datatype belongs to the measure, so the column is known before a query
  runs: one write path, one index and one query per read, and the unused columns
  cost one bit each in the null bitmap. DTBase's one table per datatype needed four of all.
* **Primary key (sensor_id, measure_id, timestamp)**, in that order. It is the only index:
  a read of one sensor's measure over a window is one range scan of the key, already in
  timestamp order (no sort, no second index to maintain at ingest). Leading with sensor_id
  makes the table distributable by sensor (Citus `create_distributed_table('sensor_reading',
  'sensor_id')`): every statement here filters or groups on one sensor, so it runs on one
  shard. Model values use (product_id, timestamp) the same way.
* **Foreign keys kept** from readings to their sensor and measure, so they guard every
  way in, direct SQL and COPY by a research team included. Checked row by row they are
  most of what an insert costs PostgreSQL (a COPY of 100,000 readings runs about 5 times
  faster without them), so the API's bulk writes check them once per request instead:
  the request's sensors and measures are locked as a per-row check would lock them,
  and the write itself runs in replica mode (`sensors.foreign_keys`, with the
  conditions under which it steps aside). Triggers on these tables must be
  `ENABLE ALWAYS` to see those writes; a plain one turns the shortcut off.
* **Ingest** writes a request's rows in key order with one COPY when nothing stored can
  conflict with them (the usual case: newer readings), or else one INSERT ... ON CONFLICT
  (see `sensors.ingest`): duplicates of a key are skipped (the first given stays), or
  overwrite with `overwrite=True` (the last given wins). A request is one transaction.
* **Reads** fetch the first 20,000 readings of a window with one plain query (binary
  protocol) in the request's transaction, so small reads cost one round trip; longer ones
  stream the rest from a server-side cursor, a chunk at a time, so the backend's memory
  is bounded by the chunk whatever the window.
* **Downsampling** groups by `date_bin` into buckets aligned on the Unix epoch, so buckets
  of one width are the same whatever window is asked for. Over raw rows that costs about
  1 ms per 1,000 readings (a year of a 1 Hz sensor is 30 million), so it reads
  **rollups** (`sensors.rollups`): count, sum, min, max and the first and last timestamps
  per bucket of 1 min, 10 min, 1 h and 1 day, in `sensor_reading_rollup`. A read whose
  bucket width is a multiple of a rollup width takes the whole rollup buckets inside its
  window (coarsest first) and the raw readings of the partial minutes at its edges, so
  the values are exactly those of the raw computation (averages of floats up to the
  rounding of a sum in another order) at a cost bounded by the number of points asked,
  not by the readings; `max_points` widths are rounded up to a rollup multiple for that.
  Why not maintain the rollups at ingest: an overwrite or delete cannot lower a max, and
  concurrent writers of one sensor would all update the same day's row (contention, and
  deadlocks across multi-series requests). Instead, statement-level triggers on
  `sensor_reading` record the ranges written in `sensor_reading_dirty` (a plain insert,
  a few rows per request, transparent to any writer, COPY included), and a read first
  recomputes the dirty buckets of its window from the raw rows. Rollups lead with
  sensor_id too, so they distribute with the readings. Deleting a sensor cascades to them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from psycopg import Connection, sql
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dtbase.backend.sensors import rollups
from dtbase.backend.sensors.ingest import driver_connection
from dtbase.backend.values import VALUE_COLUMNS
from dtbase.schemas.sensors import Aggregate
from dtbase.schemas.values import ValueDatatype

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CHUNK_ROWS = 20_000

NUMERIC = frozenset({ValueDatatype.float, ValueDatatype.integer})
ORDERED_ONLY: frozenset[Aggregate] = frozenset({"first", "last", "count"})


# Reads


def _select_readings(datatype: ValueDatatype, *, after: bool = False) -> sql.Composed:
    """(timestamp, value) of a series from `%s` (or after it, with `after`) to `%s`."""
    return sql.SQL(
        'SELECT "timestamp", {} FROM sensor_reading WHERE sensor_id = %s AND measure_id = %s'
        ' AND "timestamp" {} %s AND "timestamp" <= %s ORDER BY "timestamp"'
    ).format(sql.Identifier(VALUE_COLUMNS[datatype]), sql.SQL(">" if after else ">="))


def json_items(rows: Sequence[tuple[datetime, Any]]) -> bytes:
    """`{"value", "timestamp"},...`: the items of a JSON array, without the brackets."""
    encoded = orjson.dumps(
        [{"value": value, "timestamp": stamp} for stamp, value in rows], option=orjson.OPT_UTC_Z
    )
    return encoded[1:-1]


def readings_json(
    session: Session,
    engine: Engine,
    *,
    sensor_id: int,
    measure_id: int,
    datatype: ValueDatatype,
    dt_from: datetime,
    dt_to: datetime,
    chunk_rows: int = CHUNK_ROWS,
) -> tuple[bytes, Iterator[bytes] | None]:
    """The readings as one JSON array `[{"value", "timestamp"}...]`: its first piece, and
    an iterator over the other pieces when there are more than `chunk_rows` readings.

    The first `chunk_rows` come with one plain query in the request's transaction: small
    reads cost one round trip. The rest stream from a server-side cursor on a connection
    of their own, `chunk_rows` at a time, so memory is bounded by the chunk, not by the
    window; they start after the first piece's last timestamp, so the answer stays in
    order without duplicates even if writes land in between.
    """
    series = (sensor_id, measure_id)
    query = _select_readings(datatype) + sql.SQL(" LIMIT %s")
    with driver_connection(session).cursor(binary=True) as cursor:
        rows = cursor.execute(query, (*series, dt_from, dt_to, chunk_rows + 1)).fetchall()
    if len(rows) <= chunk_rows:
        return b"[" + json_items(rows) + b"]", None
    head = rows[:chunk_rows]
    return b"[" + json_items(head), _rest_json(
        engine, series, datatype, after=head[-1][0], dt_to=dt_to, chunk_rows=chunk_rows
    )


def _rest_json(
    engine: Engine,
    series: tuple[int, int],
    datatype: ValueDatatype,
    *,
    after: datetime,
    dt_to: datetime,
    chunk_rows: int,
) -> Iterator[bytes]:
    for rows in _chunks(
        engine, _select_readings(datatype, after=True), (*series, after, dt_to), chunk_rows
    ):
        yield b"," + json_items(rows)
    yield b"]"


def _chunks(
    engine: Engine, query: sql.Composed, params: tuple[Any, ...], chunk_rows: int
) -> Iterator[list[tuple[datetime, Any]]]:
    """The query's rows, `chunk_rows` at a time, on a connection of their own."""
    with engine.connect() as outer:
        connection = outer.connection.driver_connection
        assert isinstance(connection, Connection)
        try:
            yield from server_side_chunks(connection, query, params, chunk_rows)
        finally:
            connection.rollback()


def server_side_chunks(
    connection: Connection[Any], query: sql.Composed, params: tuple[Any, ...], chunk_rows: int
) -> Iterator[list[tuple[Any, ...]]]:
    """The query's rows, `chunk_rows` at a time, from a server-side cursor (binary) in the
    connection's transaction."""
    with connection.cursor(name="dt_chunks", binary=True) as cursor:
        cursor.execute(query, params)
        while rows := cursor.fetchmany(chunk_rows):
            yield rows
            if len(rows) < chunk_rows:
                break  # the last chunk: no need to ask again


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
    params = (sensor_id, measure_id, dt_from, dt_to)
    return _chunks(engine, _select_readings(datatype), params, chunk_rows)


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
    buckets touching [dt_from, dt_to] are at most `max_points`. A width widened for
    `max_points` is rounded up to a multiple of a rollup width (fewer points, but read
    from the rollups); an explicit `bucket_seconds` is kept as it is."""
    width = timedelta(seconds=bucket_seconds) if bucket_seconds is not None else timedelta(0)
    if max_points is not None:
        span_us = max((dt_to - dt_from) // timedelta(microseconds=1), 0)
        # floor(span / w) + 2 buckets at most touch the window when it is not aligned.
        needed = timedelta(microseconds=span_us // (max_points - 1) + 1)
        if needed > width:
            width = rollups.round_up(needed)
    return width


def first_bucket(dt_from: datetime, width: timedelta) -> datetime | None:
    """The start of the bucket holding `dt_from`, or None if it is before year 1."""
    try:
        return EPOCH + width * ((dt_from - EPOCH) // width)
    except OverflowError:
        return None


def downsample(
    engine: Engine,
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
    aggregate, "min", "max" (numbers only), "count"}`.

    Buckets come from the rollups where a rollup width divides `width` (see `rollups`),
    refreshed first if writes made them dirty; the rest from the raw readings. One
    repeatable-read snapshot holds the dirty ranges and everything read, so the values are
    those of the raw readings in that snapshot.
    """
    # [start, end) may use rollups; readings from rollups.LIMIT on (if any) are read raw.
    start, end = dt_from, dt_to + rollups.TICK if dt_to < rollups.LIMIT else rollups.LIMIT
    tail = (max(dt_from, rollups.LIMIT), dt_to) if dt_to >= rollups.LIMIT else None
    levels = rollups.levels_for(width)
    series = {"sensor_id": sensor_id, "measure_id": measure_id}
    with engine.connect() as outer:
        connection = outer.connection.driver_connection
        assert isinstance(connection, Connection)
        try:
            for attempt in range(3):
                # Small indexed scans: parallel workers cost more to start than they save.
                connection.execute(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;"
                    " SET LOCAL max_parallel_workers_per_gather = 0"
                )
                dirty = (
                    rollups.dirty_ranges(connection, **series, start=start, end=end)
                    if levels and start < end
                    else []
                )
                if dirty and attempt < 2:
                    # Written since the last refresh: refresh, then read a new snapshot.
                    connection.rollback()
                    rollups.refresh(connection, **series, datatype=datatype, start=start, end=end)
                    continue
                # Writes that keep racing the refresh: read their ranges raw.
                chosen = rollups.plan(
                    start,
                    end,
                    levels,
                    [(lo, min(hi, rollups.LIMIT) + rollups.TICK) for _, lo, hi in dirty],
                )
                query, params = _downsample_query(
                    chosen, tail, sensor_id, measure_id, datatype, width, aggregate
                )
                rows = connection.execute(query, params).fetchall()
                break
        finally:
            connection.rollback()
    numeric = datatype in NUMERIC
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


def _downsample_query(
    chosen: rollups.Plan,
    tail: tuple[datetime, datetime] | None,
    sensor_id: int,
    measure_id: int,
    datatype: ValueDatatype,
    width: timedelta,
    aggregate: Aggregate,
) -> tuple[sql.Composed, list[Any]]:
    """Partial aggregates of each raw range and of each run of rollup buckets (one
    range scan each), combined per bucket; first and last look their value up by key."""
    value = sql.Identifier(VALUE_COLUMNS[datatype])
    stats = rollups.STAT_COLUMNS.get(datatype)
    raw_stats: sql.Composable
    rollup_stats: sql.Composable
    if stats is None:
        raw_stats = sql.SQL("NULL::float8, NULL::float8, NULL::float8")
        rollup_stats = raw_stats
    else:
        raw_stats = sql.SQL("{}, min({}), max({})").format(
            rollups.summed(value, datatype), value, value
        )
        rollup_stats = sql.SQL(", ").join(sql.Identifier(name) for name in stats)
    series = [sensor_id, measure_id]
    parts: list[sql.Composable] = []
    params: list[Any] = []
    raw = [(low, high, "<") for low, high in chosen.raw]
    if tail is not None and tail[0] <= tail[1]:
        raw.append((*tail, "<="))
    for low, high, below in raw:
        parts.append(
            sql.SQL(
                'SELECT date_bin(%s, "timestamp", %s) AS bin, count(*), {},'
                ' min("timestamp"), max("timestamp") FROM sensor_reading'
                ' WHERE sensor_id = %s AND measure_id = %s AND "timestamp" >= %s'
                ' AND "timestamp" {} %s GROUP BY bin'
            ).format(raw_stats, sql.SQL(below))
        )
        params += [width, EPOCH, *series, low, high]
    for level, low, high in chosen.rollups:
        parts.append(
            sql.SQL(
                "SELECT date_bin(%s, bucket, %s), count, {}, first_at, last_at"
                " FROM sensor_reading_rollup WHERE sensor_id = %s AND measure_id = %s"
                " AND width_seconds = %s AND bucket >= %s AND bucket < %s"
            ).format(rollup_stats)
        )
        params += [width, EPOCH, *series, level, low, high]
    if not parts:
        return sql.Composed([sql.SQL("SELECT NULL LIMIT 0")]), []
    chosen_value = {
        "avg": _mean(datatype),
        "min": sql.SQL("g.lo"),
        "max": sql.SQL("g.hi"),
        "count": sql.SQL("g.n"),
        "first": sql.SQL("r.{}").format(value),
        "last": sql.SQL("r.{}").format(value),
    }[aggregate]
    lookup: sql.Composable = sql.SQL("")
    if aggregate in ("first", "last"):
        lookup = sql.SQL(
            " JOIN sensor_reading r ON r.sensor_id = %s AND r.measure_id = %s"
            ' AND r."timestamp" = g.{}'
        ).format(sql.Identifier(f"{aggregate}_at"))
        params += series
    query = sql.SQL(
        "WITH parts (bucket, n, s, lo, hi, first_at, last_at) AS ({parts}), g AS ("
        " SELECT bucket, sum(n)::bigint AS n, sum(s) AS s, min(lo) AS lo, max(hi) AS hi,"
        " min(first_at) AS first_at, max(last_at) AS last_at FROM parts GROUP BY bucket)"
        " SELECT g.bucket, {chosen}, g.lo, g.hi, g.n FROM g{lookup} ORDER BY g.bucket"
    ).format(parts=sql.SQL(" UNION ALL ").join(parts), chosen=chosen_value, lookup=lookup)
    return query, params


def _mean(datatype: ValueDatatype) -> sql.Composable:
    """A bucket's mean from its (count, sum, min, max); float sums are scaled (see
    `rollups.FLOAT_SUM_SCALE`). A mean lies between the minimum and the maximum, and is
    kept there: rounding could put the mean of many largest doubles one step above, out
    of the range."""
    if datatype != ValueDatatype.float:
        return sql.SQL("g.s / g.n")
    scale = sql.Literal(rollups.FLOAT_SUM_SCALE)
    return sql.SQL("least(greatest(g.s / g.n, g.lo * {0}), g.hi * {0}) / {0}").format(scale)
