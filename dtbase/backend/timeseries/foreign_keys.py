"""Foreign keys of a bulk write checked once per request instead of once per row.

PostgreSQL checks a foreign key with one query per inserted row: `SELECT 1 FROM parent
WHERE key = $1 FOR KEY SHARE`. A request of 1,000 readings of one sensor runs 2,000 such
queries, all finding the same two rows: a COPY of 100,000 readings runs about 5 times
faster without them (`bench/readings.py`). Here the same check runs once per request and
key: the distinct parent keys of the request are locked `FOR KEY SHARE`, in key order,
and counted. If all are there, the write runs with `session_replication_role = replica`,
which turns the per-row checks off for that statement only, and the role is set back
right after it.

That is the same guarantee as the per-row checks: every referenced row exists and cannot
be deleted or have its key changed before the transaction ends. The keys stay declared,
so every other writer (direct SQL, the API's other routes, deletes that cascade) is
checked as before.

It is used only when it cannot change what else happens (and the setting
`DT_INGEST_FK_SHORTCUT` is not false):
* the backend's database role may set `session_replication_role` (a superuser, or
  `GRANT SET ON PARAMETER session_replication_role` on PostgreSQL 15 or later), and its
  sessions run in the default role (`origin`);
* each foreign key of the table is over the request's key columns (the prefix columns of
  `ingest.Rows`);
* replica mode would skip no trigger on the table but those per-row checks: other
  triggers must be `ENABLE ALWAYS` (the rollup triggers are). A fork that adds a plain
  trigger turns this off for that table, with no other change in behaviour.
* the request is large enough to gain (`FEWEST_ROWS`): the switch costs three statements
  and the replanning of the connection's prepared statements.

Otherwise, and whenever a parent row is missing (deleted meanwhile), the write runs with
the per-row checks, and a missing parent fails it as it always did. A table's foreign
keys are read from the catalog once per pooled connection; every use checks, in the
statement that locks the parents, that the keys, the triggers and the role's rights are
still what allowed it (a trigger created by hand on a running system counts at once). A
table found unfit stays so for the life of the connection: that only costs speed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from psycopg import Cursor, pq, sql
from sqlalchemy.orm import Session

from dtbase.backend.db import INGEST_FK_SHORTCUT

# Below this many rows, the per-row checks cost less than switching them off. Measured
# (one sensor's readings written and committed): the switch adds about 1.5 ms, for the
# checks and the replanning it causes; it breaks even at about 100 rows, and 1,000 rows
# take 7-8 ms instead of 17.
FEWEST_ROWS = 200


@dataclass(frozen=True)
class Plan:
    """The positions among the key columns of each foreign key's columns, and one
    statement that checks the catalog still allows checking them once (`_STILL_ALLOWED`)
    and locks and counts their parents (one array parameter per column of each key)."""

    foreign_keys: tuple[tuple[int, ...], ...]
    statement: bytes


@contextmanager
def checked_once(
    session: Session,
    cursor: Cursor[Any],
    table: str,
    key_columns: Sequence[str],
    prefixes: Sequence[tuple[int, ...]],
    rows: int,
) -> Iterator[bool]:
    """Within: the table's per-row foreign-key checks are off if their parents, the
    distinct `prefixes` (values of `key_columns`), are all locked. Yields whether so."""
    allowed = rows >= FEWEST_ROWS and session.info.get(INGEST_FK_SHORTCUT, True)
    plan = _plan_of(session, cursor, table, tuple(key_columns)) if allowed else None
    if plan is None or not _locked_all(session, cursor, plan, prefixes):
        yield False
        return
    cursor.execute(b"SET LOCAL session_replication_role = replica")
    try:
        yield True
    finally:
        # After an error the transaction is rolled back, and the setting with it.
        if cursor.connection.info.transaction_status == pq.TransactionStatus.INTRANS:
            cursor.execute(b"SET LOCAL session_replication_role TO DEFAULT")


def _locked_all(
    session: Session, cursor: Cursor[Any], plan: Plan, prefixes: Sequence[tuple[int, ...]]
) -> bool:
    parameters: list[list[int]] = []
    expected: list[int] = []
    for positions in plan.foreign_keys:
        # Column by column (a tuple built per row cost 1 ms for a thousand series).
        columns = [[prefix[position] for prefix in prefixes] for position in positions]
        keys = sorted(set(zip(*columns, strict=True)))
        parameters.extend(list(column) for column in zip(*keys, strict=True))
        expected.append(len(keys))
    found = cursor.execute(plan.statement, parameters).fetchone()
    if found is None or not found[0]:
        # The table's triggers or keys changed (or the role's rights): learn them again.
        _plans(session).clear()
        return False
    return list(found[1:]) == expected


def _plan_of(
    session: Session, cursor: Cursor[Any], table: str, key_columns: tuple[str, ...]
) -> Plan | None:
    """The table's plan, learned once per pooled connection (and again after a change)."""
    plans = _plans(session)
    if (table, key_columns) not in plans:
        plans[table, key_columns] = _learn(cursor, table, key_columns)
    return plans[table, key_columns]


def _plans(session: Session) -> dict[tuple[str, tuple[str, ...]], Plan | None]:
    plans: dict[tuple[str, tuple[str, ...]], Plan | None]
    plans = session.connection().info.setdefault("dtbase_foreign_key_plans", {})
    return plans


def _learn(cursor: Cursor[Any], table: str, key_columns: tuple[str, ...]) -> Plan | None:
    if cursor.connection.info.server_version < 150000:
        return None  # no has_parameter_privilege: keep the per-row checks
    may_switch = cursor.execute(_MAY_SWITCH).fetchone()
    if not (may_switch and may_switch[0]):
        return None
    triggers = list(cursor.execute(_SKIPPED_TRIGGERS, {"table": table}))
    if not all(is_a_check for _, is_a_check in triggers):
        return None
    constraints = list(cursor.execute(_FOREIGN_KEYS, {"table": table}))
    foreign_keys, locks = [], []
    for _, columns, parent, parent_columns, may_lock in constraints:
        if not (may_lock and set(columns) <= set(key_columns)):
            return None
        foreign_keys.append(tuple(key_columns.index(column) for column in columns))
        locks.append(_lock(sql.SQL(parent), parent_columns))
    if not foreign_keys:
        return None
    statement = sql.SQL("SELECT {allowed}, {locks}").format(
        allowed=sql.SQL(_STILL_ALLOWED).format(
            role_may_switch=sql.SQL(_ROLE_MAY_SWITCH),
            table=sql.Literal(table),
            constraints=_oids(oid for oid, *_ in constraints),
            triggers=_oids(oid for oid, _ in triggers),
        ),
        locks=sql.SQL(", ").join(sql.SQL("({})").format(lock) for lock in locks),
    )
    return Plan(tuple(foreign_keys), statement.as_bytes(cursor))


def _oids(oids: Iterable[int]) -> sql.Composed:
    return sql.SQL("ARRAY[{}]::oid[]").format(sql.SQL(", ").join(map(sql.Literal, oids)))


def _lock(parent: sql.SQL, parent_columns: Sequence[str]) -> sql.Composed:
    """Count the parent rows of the given keys, locked in key order as per-row checks
    lock them (`= ANY` for a one-column key: it plans faster, and plans are redone
    after each switch of the role)."""
    columns = sql.SQL(", ").join(sql.SQL("x.{}").format(sql.Identifier(c)) for c in parent_columns)
    arrays = sql.SQL(", ").join(sql.SQL("%b::int8[]") for _ in parent_columns)
    match = sql.SQL("({}) IN (SELECT * FROM unnest({}))").format(columns, arrays)
    if len(parent_columns) == 1:
        match = sql.SQL("{} = ANY({})").format(columns, arrays)
    return sql.SQL(
        "SELECT count(*) FROM (SELECT FROM ONLY {parent} x WHERE {match}"
        " ORDER BY {columns} FOR KEY SHARE OF x) AS locked"
    ).format(parent=parent, match=match, columns=columns)


# Checked on every use, as cheaply as it plans (plans are redone after each switch of
# the role): the role may switch the checks off, and the table's foreign keys and the
# triggers replica mode would skip are still the ones learned.
_ROLE_MAY_SWITCH = """current_setting('session_replication_role') = 'origin'
    AND has_parameter_privilege('session_replication_role', 'SET')"""

_MAY_SWITCH = f"SELECT {_ROLE_MAY_SWITCH}".encode()

_STILL_ALLOWED = """(
    {role_may_switch}
    AND ARRAY(
        SELECT oid FROM pg_constraint
        WHERE conrelid = {table}::regclass AND contype = 'f' ORDER BY oid
    ) = {constraints}
    AND ARRAY(
        SELECT oid FROM pg_trigger
        WHERE tgrelid = {table}::regclass AND tgenabled IN ('O', 'R') ORDER BY oid
    ) = {triggers}
)"""

# The triggers replica mode would skip, and whether each is a check of one of the
# table's own foreign keys.
_SKIPPED_TRIGGERS = b"""
SELECT t.oid::int8, coalesce(t.tgisinternal AND c.contype = 'f' AND c.conrelid = t.tgrelid, false)
FROM pg_trigger t LEFT JOIN pg_constraint c ON c.oid = t.tgconstraint
WHERE t.tgrelid = %(table)s::regclass AND t.tgenabled IN ('O', 'R')
ORDER BY t.oid
"""

_FOREIGN_KEYS = b"""
SELECT
    c.oid::int8,
    ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(n, i)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i),
    c.confrelid::regclass::text,  -- quoted and qualified as needed
    ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(n, i)
        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i),
    -- FOR KEY SHARE needs it (a per-row check runs as the parent's owner)
    has_table_privilege(c.confrelid, 'UPDATE')
FROM pg_constraint c
WHERE c.conrelid = %(table)s::regclass AND c.contype = 'f'
ORDER BY c.oid
"""
