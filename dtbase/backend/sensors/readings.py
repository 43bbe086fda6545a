"""Sensor readings read back: streamed in timestamp order (JSON, CSV, NDJSON) and
downsampled in SQL over the rollups (`sensors.rollups`). Storage choices: see
`dtbase.backend.timeseries`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from psycopg import sql
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from dtbase.backend.sensors import rollups
from dtbase.backend.sensors.tables import SensorMeasure, SensorReading
from dtbase.backend.timeseries import streaming
from dtbase.backend.timeseries.ingest import driver_connection
from dtbase.backend.values import VALUE_COLUMNS
from dtbase.core.timestamps import EPOCH
from dtbase.schemas.sensors import Aggregate
from dtbase.schemas.values import Scalar, ValueDatatype

NUMERIC = frozenset({ValueDatatype.float, ValueDatatype.integer})
ORDERED_ONLY: frozenset[Aggregate] = frozenset({"first", "last", "count"})

READINGS_INSERTED = "Sensor readings inserted"


# Reads


def _select_readings(datatype: ValueDatatype, *, after: bool = False) -> sql.Composed:
    """(timestamp, value) of a series from `%s` (or after it, with `after`) to `%s`."""
    return sql.SQL(
        'SELECT "timestamp", {} FROM sensor_reading WHERE sensor_id = %s AND measure_id = %s'
        ' AND "timestamp" {} %s AND "timestamp" <= %s ORDER BY "timestamp"'
    ).format(sql.Identifier(VALUE_COLUMNS[datatype]), sql.SQL(">" if after else ">="))


def readings_json(
    session: Session,
    engine: Engine,
    *,
    sensor_id: int,
    measure_id: int,
    datatype: ValueDatatype,
    dt_from: datetime,
    dt_to: datetime,
    chunk_rows: int = streaming.CHUNK_ROWS,
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
        return b"[" + streaming.json_items(rows) + b"]", None
    head = rows[:chunk_rows]
    return b"[" + streaming.json_items(head), _rest_json(
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
    for rows in streaming.chunks(
        engine, _select_readings(datatype, after=True), (*series, after, dt_to), chunk_rows
    ):
        yield b"," + streaming.json_items(rows)
    yield b"]"


def iter_readings(
    engine: Engine,
    *,
    sensor_id: int,
    measure_id: int,
    datatype: ValueDatatype,
    dt_from: datetime,
    dt_to: datetime,
    chunk_rows: int = streaming.CHUNK_ROWS,
) -> Iterator[list[tuple[datetime, Any]]]:
    """(timestamp, value) rows in timestamp order, a chunk at a time (server-side cursor)."""
    params = (sensor_id, measure_id, dt_from, dt_to)
    return streaming.chunks(engine, _select_readings(datatype), params, chunk_rows)


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
    with streaming.own_connection(engine) as connection:
        # A snapshot cannot see a refresh made after it began: refresh outside it, then read
        # in a new one. Writes can dirty a range again meanwhile, so two refreshes at most.
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
    numeric = datatype in NUMERIC
    items: list[dict[str, Any]] = []
    for bucket, value, low, high, count in rows:
        if aggregate == "avg":
            value = float(value)  # numeric for integers
            if datatype == ValueDatatype.float:
                value = decimal_mean(value, low, high)
        item: dict[str, Any] = {"timestamp": bucket, "value": value}
        if numeric:
            item["min"], item["max"] = low, high
        item["count"] = count
        items.append(item)
    return items


# Significant digits every double keeps through a decimal round trip (C's DBL_DIG).
MEAN_DIGITS = 15


def decimal_mean(mean: float, low: float, high: float) -> float:
    """The mean of a bucket of doubles without the noise of summing them: digits beyond
    the 15th are the sum's rounding error (the mean of 18.88 and 18.9 sums to
    18.889999999999997), so they are dropped. A bucket of equal values keeps the value
    exactly, digits and all, and the mean stays between the minimum and the maximum."""
    if low == high:
        return low
    return min(max(float(f"{mean:.{MEAN_DIGITS}g}"), low), high)


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


# A table of readings


def readings_table(
    session: Session,
    *,
    sensor_id: int,
    measures: Sequence[SensorMeasure],
    dt_from: datetime,
    dt_to: datetime,
    offset: int,
    limit: int,
    newest_first: bool,
) -> tuple[int, list[tuple[datetime, list[Scalar | None]]]]:
    """How many distinct timestamps the measures' readings have in [dt_from, dt_to], and
    the page `offset` to `offset + limit` of them, each with one value per measure (None
    where that measure has no reading then).

    Three queries: a count, the page's timestamps and their readings. All walk the
    (sensor, measure, timestamp) index: an offset costs a scan of the rows it skips.
    """
    ids = [measure.id for measure in measures]
    if not ids:
        return 0, []
    in_range = (
        SensorReading.sensor_id == sensor_id,
        SensorReading.measure_id.in_(ids),
        SensorReading.timestamp.between(dt_from, dt_to),
    )
    stamps = select(SensorReading.timestamp).where(*in_range).distinct()
    total = session.scalar(select(func.count()).select_from(stamps.subquery())) or 0
    order = SensorReading.timestamp.desc() if newest_first else SensorReading.timestamp.asc()
    page = session.scalars(stamps.order_by(order).offset(offset).limit(limit)).all()
    if not page:
        return total, []
    # The page's timestamps are consecutive: its readings are one range of each measure's
    # index. (Joined to the page as a subquery instead, the planner may rerun the subquery
    # for every reading of the range: seconds for a first page of 100,000.)
    found = session.scalars(
        select(SensorReading).where(
            *in_range, SensorReading.timestamp.between(min(page), max(page))
        )
    )
    column = {measure_id: index for index, measure_id in enumerate(ids)}
    datatypes = [measure.datatype for measure in measures]
    rows: dict[datetime, list[Scalar | None]] = {}
    for reading in found:
        index = column[reading.measure_id]
        values = rows.setdefault(reading.timestamp, [None] * len(ids))
        values[index] = reading.value_of(datatypes[index])
    ordered = sorted(rows.items(), key=lambda row: row[0], reverse=newest_first)
    return total, ordered
