"""Time series rows streamed out: a chunk at a time from a server-side cursor, and
encoded a chunk at a time as JSON items, CSV or NDJSON. Readings and model values alike
are `(timestamp, value)` rows in timestamp order (storage choices: see `timeseries`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from psycopg import Connection, sql
from sqlalchemy import Engine

# Rows per chunk of a streamed read: bounds the backend's memory whatever the window.
CHUNK_ROWS = 20_000


def chunks(
    engine: Engine, query: sql.Composed, params: tuple[Any, ...], chunk_rows: int
) -> Iterator[list[tuple[datetime, Any]]]:
    """The query's rows, `chunk_rows` at a time, on a connection of their own."""
    with own_connection(engine) as connection:
        yield from server_side_chunks(connection, query, params, chunk_rows)


@contextmanager
def own_connection(engine: Engine) -> Iterator[Connection[Any]]:
    """A psycopg connection of the pool's, apart from the request's; its transaction is
    rolled back when done (reads only)."""
    with engine.connect() as outer:
        connection = outer.connection.driver_connection
        assert isinstance(connection, Connection)
        try:
            yield connection
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


def json_items(rows: Sequence[tuple[datetime, Any]]) -> bytes:
    """`{"value", "timestamp"},...`: the items of a JSON array, without the brackets."""
    encoded = orjson.dumps(
        [{"value": value, "timestamp": stamp} for stamp, value in rows], option=orjson.OPT_UTC_Z
    )
    return encoded[1:-1]


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
