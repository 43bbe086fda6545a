"""Rollups: per-bucket aggregates of readings at fixed widths, kept exact lazily.

Design (why: see the storage choices in `dtbase.backend.timeseries`)
--------------------------------------------------------------------
* `sensor_reading_rollup` holds, per (sensor, measure, width, epoch-aligned bucket), the
  count, sum, min and max (numeric measures, in their datatype's type; sums of floats
  scaled, see `FLOAT_SUM_SCALE`) and the timestamps
  of the first and last reading. Widths are 1 min, 10 min, 1 h and 1 day: each divides the
  next, so a bucket of one width is a whole number of buckets of every finer one, and a
  coarser level is computed from the finer one. Consecutive widths differ by at most 24x,
  so a downsampled read aggregates at most about 24 rollup rows per point it returns.
* Writers do not know about rollups. Statement-level AFTER INSERT/UPDATE/DELETE triggers
  with transition tables (migration 0008) add one `sensor_reading_dirty` range per
  (sensor, measure, day touched) and statement: a plain insert, so writers neither
  contend for rollup rows nor take locks in a new order (no deadlocks), and the cost is
  one hash aggregate over the statement's rows.
* Invariant: a rollup row equals the aggregate of the stored readings in its bucket unless
  a dirty range intersects the bucket. Both facts change in the same transaction (the
  trigger), so every snapshot sees them consistent.
* `refresh` recomputes the buckets that dirty ranges touch, finest width first (1 min
  from the readings, each coarser width from the one below), then deletes those ranges,
  all in one transaction under an advisory lock per series. A range committed meanwhile
  is not deleted, so it keeps its buckets marked until the next refresh.
* A read (`plan`) covers its window with the coarsest rollup buckets that fit entirely
  inside it, finer ones towards the edges, and raw readings for the last partial minutes
  and for any dirty range still present in its snapshot: the result equals the
  computation over the raw readings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import Connection, sql

from dtbase.backend.values import VALUE_COLUMNS
from dtbase.core.timestamps import EPOCH, floor_to
from dtbase.schemas.values import ValueDatatype

# Seconds; each width divides the next.
WIDTHS: tuple[int, ...] = (60, 600, 3600, 86400)
TICK = timedelta(microseconds=1)  # the resolution of timestamptz
# Rollups stop here (a day-aligned instant), so that bucket arithmetic never overflows
# Python's datetime; reads of later readings, if any, use the raw rows.
LIMIT = datetime(9999, 12, 30, tzinfo=UTC)

# The rollup's sum, min and max columns for each numeric datatype.
STAT_COLUMNS: dict[ValueDatatype, tuple[str, str, str]] = {
    ValueDatatype.float: ("sum_float", "min_float", "max_float"),
    ValueDatatype.integer: ("sum_integer", "min_integer", "max_integer"),
}
_ALL_STATS = ("sum_float", "min_float", "max_float", "sum_integer", "min_integer", "max_integer")
# Sums of floats are kept scaled by this power of two (exactly: only the exponent changes),
# so that they cannot overflow: a sum of 1e308 and 1e308 is out of the double range, and
# PostgreSQL raises an error where it would be infinite, which broke every downsampled read
# of the series and the refresher. Scaled, a bucket would need 2**64 readings of the
# largest double to overflow. The cost: values below about 1e-289 lose precision in a mean
# (their scaled form is subnormal), a range no measurement reaches.
FLOAT_SUM_SCALE = 2.0**-64


def summed(value: sql.Composable, datatype: ValueDatatype) -> sql.Composable:
    """The sum of a numeric column, as the rollups keep it (floats scaled)."""
    if datatype == ValueDatatype.float:
        return sql.SQL("sum({} * {})").format(value, sql.Literal(FLOAT_SUM_SCALE))
    return sql.SQL("sum({})").format(value)


Interval = tuple[datetime, datetime]  # [start, end)


def ceil_to(stamp: datetime, seconds: int) -> datetime:
    start = floor_to(stamp, seconds)
    return start if start == stamp else start + timedelta(seconds=seconds)


def levels_for(width: timedelta) -> list[int]:
    """The rollup widths that divide `width`, coarsest first."""
    micros = width // TICK
    return [w for w in reversed(WIDTHS) if micros % (w * 1_000_000) == 0]


def round_up(width: timedelta) -> timedelta:
    """`width` rounded up to a multiple of the coarsest rollup width not above it (less
    than twice `width`), so that the read can use that rollup."""
    fitting = [w for w in WIDTHS if timedelta(seconds=w) <= width]
    if not fitting:
        return width
    step = timedelta(seconds=fitting[-1])
    return -((-width) // step) * step


def merged(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of half-open intervals, as disjoint intervals in order."""
    result: list[Interval] = []
    for start, end in sorted(intervals):
        if result and start <= result[-1][1]:
            if end > result[-1][1]:
                result[-1] = (result[-1][0], end)
        else:
            result.append((start, end))
    return result


@dataclass
class Plan:
    """How to compute a window: raw readings over `raw`, rollup buckets over `rollups`
    (width, [first bucket start, end))."""

    raw: list[Interval] = field(default_factory=list)
    rollups: list[tuple[int, datetime, datetime]] = field(default_factory=list)


def plan(start: datetime, end: datetime, levels: Sequence[int], dirty: Iterable[Interval]) -> Plan:
    """Cover [start, end) with buckets of `levels` (coarsest first) that lie entirely
    inside it and outside every `dirty` interval, the rest with raw readings."""
    result = Plan()
    clean_from = start
    for low, high in merged((max(low, start), min(high, end)) for low, high in dirty):
        if low >= high:
            continue
        _cover(clean_from, low, levels, result)
        result.raw.append((low, high))
        clean_from = high
    _cover(clean_from, end, levels, result)
    result.raw = merged(result.raw)
    return result


def _cover(start: datetime, end: datetime, levels: Sequence[int], result: Plan) -> None:
    if start >= end:
        return
    if not levels:
        result.raw.append((start, end))
        return
    width, finer = levels[0], levels[1:]
    first, last = ceil_to(start, width), floor_to(end, width)
    if first >= last:
        _cover(start, end, finer, result)
        return
    _cover(start, first, finer, result)
    result.rollups.append((width, first, last))
    _cover(last, end, finer, result)


# Maintenance


def dirty_ranges(
    connection: Connection[Any], *, sensor_id: int, measure_id: int, start: datetime, end: datetime
) -> list[tuple[int, datetime, datetime]]:
    """(id, lo, hi) of the dirty ranges of a series that intersect [start, end)."""
    rows = connection.execute(
        "SELECT id, lo, hi FROM sensor_reading_dirty WHERE sensor_id = %s AND measure_id = %s"
        " AND lo < %s AND hi >= %s",
        (sensor_id, measure_id, end, start),
    ).fetchall()
    return [(row[0], row[1], row[2]) for row in rows]


def refresh(
    connection: Connection[Any],
    *,
    sensor_id: int,
    measure_id: int,
    datatype: ValueDatatype,
    start: datetime | None = None,
    end: datetime | None = None,
) -> int:
    """Recompute the rollups under the series' dirty ranges (those intersecting [start,
    end) if given) and forget those ranges, in one transaction of `connection` (which must
    not be in one already). Returns how many ranges it cleaned."""
    with connection.transaction():
        # The sensor row first, as a delete of the sensor does: a refresh and a delete of
        # the same sensor queue up instead of deadlocking over the cascade.
        if (
            connection.execute(
                "SELECT FROM sensor WHERE id = %s FOR KEY SHARE", (sensor_id,)
            ).fetchone()
            is None
        ):
            return 0
        connection.execute("SELECT pg_advisory_xact_lock(%s, %s)", (sensor_id, measure_id))
        ranges = dirty_ranges(
            connection,
            sensor_id=sensor_id,
            measure_id=measure_id,
            start=start or datetime.min.replace(tzinfo=UTC),
            end=end or datetime.max.replace(tzinfo=UTC),
        )
        if not ranges:
            return 0
        finer: int | None = None
        kept = [(lo, min(hi, LIMIT - TICK)) for _, lo, hi in ranges if lo < LIMIT]
        for width in WIDTHS:
            spans = merged(
                (floor_to(lo, width), floor_to(hi, width) + timedelta(seconds=width))
                for lo, hi in kept
            )
            _recompute(connection, sensor_id, measure_id, datatype, width, finer, spans)
            finer = width
        connection.execute(
            "DELETE FROM sensor_reading_dirty WHERE id = ANY(%s)", ([row[0] for row in ranges],)
        )
    return len(ranges)


def _recompute(
    connection: Connection[Any],
    sensor_id: int,
    measure_id: int,
    datatype: ValueDatatype,
    width: int,
    finer: int | None,
    spans: list[Interval],
) -> None:
    starts, ends = [span[0] for span in spans], [span[1] for span in spans]
    series = (sensor_id, measure_id)
    connection.execute(
        "DELETE FROM sensor_reading_rollup u USING unnest(%s::timestamptz[], %s::timestamptz[])"
        " AS iv(a, b) WHERE u.sensor_id = %s AND u.measure_id = %s AND u.width_seconds = %s"
        " AND u.bucket >= iv.a AND u.bucket < iv.b",
        (starts, ends, *series, width),
    )
    stats: tuple[str, ...]
    if finer is None:
        stats = STAT_COLUMNS.get(datatype, ())
        value = sql.Identifier(VALUE_COLUMNS[datatype])
        aggregates = (
            [
                sql.SQL("{}, min(r.{}), max(r.{})").format(
                    summed(sql.SQL("r.{}").format(value), datatype), value, value
                )
            ]
            if stats
            else []
        )
        source = sql.SQL(
            'SELECT date_bin(%s, r."timestamp", %s) AS bin, count(*) {aggregates},'
            ' min(r."timestamp"), max(r."timestamp")'
            " FROM unnest(%s::timestamptz[], %s::timestamptz[]) AS iv(a, b)"
            " JOIN sensor_reading r ON r.sensor_id = %s AND r.measure_id = %s"
            ' AND r."timestamp" >= iv.a AND r."timestamp" < iv.b GROUP BY bin'
        ).format(aggregates=sql.SQL("").join(sql.SQL(", ") + a for a in aggregates))
        params: tuple[Any, ...] = (timedelta(seconds=width), EPOCH, starts, ends, *series)
    else:
        stats = _ALL_STATS
        combined = [
            sql.SQL("{}(u.{})").format(sql.SQL(name.split("_")[0]), sql.Identifier(name))
            for name in stats
        ]
        source = sql.SQL(
            "SELECT date_bin(%s, u.bucket, %s) AS bin, sum(u.count), {combined},"
            " min(u.first_at), max(u.last_at)"
            " FROM unnest(%s::timestamptz[], %s::timestamptz[]) AS iv(a, b)"
            " JOIN sensor_reading_rollup u ON u.sensor_id = %s AND u.measure_id = %s"
            " AND u.width_seconds = %s AND u.bucket >= iv.a AND u.bucket < iv.b GROUP BY bin"
        ).format(combined=sql.SQL(", ").join(combined))
        params = (timedelta(seconds=width), EPOCH, starts, ends, *series, finer)
    columns = sql.SQL(", ").join(
        sql.Identifier(name) for name in ("bucket", "count", *stats, "first_at", "last_at")
    )
    connection.execute(
        sql.SQL(
            "INSERT INTO sensor_reading_rollup (sensor_id, measure_id, width_seconds, {columns})"
            " SELECT %s, %s, %s, s.* FROM ({source}) AS s"
        ).format(columns=columns, source=source),
        (*series, width, *params),
    )


def refresh_all(connection: Connection[Any]) -> int:
    """Refresh every series with dirty ranges (e.g. from a background job, or after a bulk
    load). Returns how many ranges it cleaned."""
    series = connection.execute(
        "SELECT DISTINCT d.sensor_id, d.measure_id, m.datatype FROM sensor_reading_dirty d"
        " JOIN sensor_measure m ON m.id = d.measure_id"
    ).fetchall()
    connection.commit()
    return sum(
        refresh(
            connection,
            sensor_id=sensor_id,
            measure_id=measure_id,
            datatype=ValueDatatype(datatype),
        )
        for sensor_id, measure_id, datatype in series
    )
