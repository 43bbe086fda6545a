"""Bulk ingest of time series with COPY (storage choices: see `timeseries`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import Connection, sql
from sqlalchemy.orm import Session

from dtbase.backend.values import VALUE_COLUMNS
from dtbase.schemas.values import ValueDatatype

# COPY BINARY type names for each typed value column.
_COPY_TYPES = {
    ValueDatatype.float: "float8",
    ValueDatatype.integer: "int8",
    ValueDatatype.string: "text",
    ValueDatatype.boolean: "bool",
}


def driver_connection(session: Session) -> Connection[Any]:
    """The psycopg connection under the session, inside the session's transaction."""
    connection = session.connection().connection.driver_connection
    if not isinstance(connection, Connection):
        raise TypeError("dtbase needs the psycopg 3 driver")
    return connection


def copy_series(
    session: Session,
    *,
    table: str,
    keys: Sequence[str],
    key_types: Sequence[str],
    datatype: ValueDatatype,
    rows: Iterable[tuple[Any, ...]],
    overwrite: bool = False,
) -> None:
    """Store `rows` (the key columns in order, then the value) into `table`.

    The last key is the timestamp. Rows are COPYed into a staging table and inserted in
    key order; a key already stored (or repeated in `rows`) is skipped unless `overwrite`,
    when the last row given for a key replaces what is stored.
    """
    connection = driver_connection(session)
    value_column = VALUE_COLUMNS[datatype]
    stage = sql.Identifier(f"dt_stage_{table}")
    target = sql.Identifier(table)
    key_ids = [sql.Identifier(key) for key in keys]
    key_list = sql.SQL(", ").join(key_ids)
    columns = sql.SQL(", ").join([*key_ids, sql.Identifier(value_column)])
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {} (n bigserial, LIKE {}) ON COMMIT DELETE ROWS"
            ).format(stage, target)
        )
        with cursor.copy(
            sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(stage, columns)
        ) as copy:
            copy.set_types([*key_types, _COPY_TYPES[datatype]])
            for row in rows:
                copy.write_row(row)
        if overwrite:
            statement = sql.SQL(
                "INSERT INTO {target} ({columns}) "
                "SELECT DISTINCT ON ({keys}) {columns} FROM {stage} ORDER BY {keys}, n DESC "
                "ON CONFLICT ({keys}) DO UPDATE SET value_float = EXCLUDED.value_float, "
                "value_integer = EXCLUDED.value_integer, value_string = EXCLUDED.value_string, "
                "value_boolean = EXCLUDED.value_boolean"
            )
        else:
            statement = sql.SQL(
                "INSERT INTO {target} ({columns}) SELECT {columns} FROM {stage} "
                "ORDER BY {keys}, n ON CONFLICT DO NOTHING"
            )
        cursor.execute(statement.format(target=target, columns=columns, keys=key_list, stage=stage))
        cursor.execute(sql.SQL("TRUNCATE {}").format(stage))
