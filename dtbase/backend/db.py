"""Engine, sessions and the declarative base shared by every domain's tables."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVarTuple

import anyio.to_thread
from anyio import CancelScope, CapacityLimiter
from fastapi import Depends, Request
from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    MetaData,
    Row,
    Select,
    create_engine,
    event,
    func,
)
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

# Constraint names are explicit so that Alembic migrations can name what they drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Timestamped:
    """The columns every DTBase table has besides its id."""

    time_created: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    time_updated: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), onupdate=func.now()
    )


def make_engine(url: str) -> Engine:
    """Every session reads and writes time in UTC, whatever the server's default is.

    No ping before each use of a pooled connection: it is a round trip on every request
    (measured: 6% of an ingest request of 1,000 readings here, more where the database is
    across a network). After a database restart, the first request to meet a dead
    connection gets a 503 (see `errors`) and SQLAlchemy replaces the whole pool.
    """
    engine = create_engine(url, connect_args={"options": "-c timezone=UTC"})
    event.listen(engine, "before_cursor_execute", _refuse_writes_without_transaction)
    return engine


def make_session_factory(
    engine: Engine, *, ingest_fk_shortcut: bool = True
) -> sessionmaker[Session]:
    """Sessions of `engine`; their `info` carries what the stores need of the settings."""
    return sessionmaker(
        engine, expire_on_commit=False, info={INGEST_FK_SHORTCUT: ingest_fk_shortcut}
    )


def without_transaction(session: Session) -> None:
    """Each statement of `session` on its own (autocommit), for a request that only reads:
    no BEGIN and no COMMIT, which are two of a small read's four round trips to PostgreSQL.
    Call it before the session's first statement.

    Nothing changes for what the statements see: at READ COMMITTED, the default, each
    statement of a transaction takes a snapshot of its own too. A statement that writes is
    refused (`WriteWithoutTransaction`): it would be stored at once, whatever the rest of
    the request does.
    """
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT", _READS_ONLY: True})


class WriteWithoutTransaction(RuntimeError):
    """A write on a connection taken for reads only (`without_transaction`): a bug in the
    endpoint, refused before PostgreSQL sees it."""


# `Connection` execution option: set by `without_transaction`.
_READS_ONLY = "dtbase_reads_only"
# What a statement that only reads starts with (a data-modifying `WITH` is the one kind
# written by hand that this lets through; the ORM's and Core's writes are caught by kind).
_READS = ("SELECT", "WITH")


def _refuse_writes_without_transaction(
    connection: Connection,
    _cursor: DBAPICursor,
    statement: str,
    _parameters: object,
    context: DefaultExecutionContext | None,
    _executemany: bool,
) -> None:
    if not connection.get_execution_options().get(_READS_ONLY):
        return
    writes = context is not None and (context.isinsert or context.isupdate or context.isdelete)
    if writes or not statement.lstrip()[:6].upper().startswith(_READS):
        raise WriteWithoutTransaction(f"A write in a request that only reads: {statement[:80]}")


Columns = TypeVarTuple("Columns")


class Precompiled(Generic[*Columns]):
    """A SELECT compiled to SQL once, for the hottest reads: the caller's lookup (every
    authenticated request) and `list-sensors`.

    `session.execute(select(...))` builds the statement's cache key, finds its compiled
    form and sets up an execution context and ORM or Core result processing on every
    run: for a small read, more than half of what waiting for PostgreSQL's answer takes
    (measured in docs/performance.md). This is sent as text through the session's connection
    (`exec_driver_sql`), so the engine's events (`_refuse_writes_without_transaction`,
    the tests' statement counts), its handling of a dead connection, and psycopg's
    prepared statements (from a query's fifth run on a connection) all still apply.

    `async_reads.AsyncReads.rows` awaits the same SQL on psycopg's async connections.

    What it does not do: SQLAlchemy's type processing. Parameters go to psycopg as they
    are (give plain values: str, int, UUID, datetime, None), and columns come back as
    psycopg reads them (an enum as its text). No `IN` lists of variable length either.
    """

    def __init__(self, statement: Select[*Columns]) -> None:
        compiled = statement.compile(dialect=_POSTGRESQL)
        self.sql = str(compiled)
        self.defaults: dict[str, Any] = dict(compiled.params)

    def rows(self, session: Session, **parameters: object) -> Sequence[Row[*Columns]]:
        result = session.connection().exec_driver_sql(self.sql, self.defaults | parameters)
        rows: Sequence[Row[*Columns]] = result.all()
        return rows


_POSTGRESQL = postgresql_psycopg.dialect()  # type: ignore[no-untyped-call]


# `Session.info` key: whether bulk ingest may check foreign keys once (`timeseries.foreign_keys`).
INGEST_FK_SHORTCUT = "dtbase_ingest_fk_shortcut"


def session_factory_of(request: Request) -> sessionmaker[Session]:
    """The app's session factory (`create_app` keeps it on `app.state`)."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One unit of work per request: commit on success, roll back on any exception.

    Async, so that only the end of the request takes a worker thread: opening a session
    touches no connection, and a thread hop costs about as much as a small query.
    """
    session = session_factory_of(request)()
    try:
        yield session
    # BaseException: a request cancelled mid-way (the client hung up) must not commit the
    # half of its writes done so far.
    except BaseException:
        await _end(session, commit=False)
        raise
    await _end(session, commit=True)


async def give_back_connection(session: Session) -> None:
    """End the request's transaction so far (nothing written yet) before a long wait, so
    that waiting holds no connection; the session begins anew when used again."""
    await _end(session, commit=False)


async def _end(session: Session, *, commit: bool) -> None:
    if not session.in_transaction():
        # Nothing to commit or roll back (unused, or committed with its endpoint, see
        # `one_thread`): closing touches no connection, so no thread hop for it.
        session.close()
        return

    def end() -> None:
        with session:
            if commit:
                session.commit()
            else:
                session.rollback()

    # Shielded, and with a limiter of its own: the connection goes back to the pool even
    # if the request is cancelled or every worker thread waits for a connection.
    with CancelScope(shield=True):
        await anyio.to_thread.run_sync(end, limiter=CapacityLimiter(1))


# scope="function": the commit runs when the endpoint returns, before the answer is sent,
# so a failed commit is the client's error answer rather than a write lost after a 200.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def cascading(target: str) -> ForeignKey:
    """A foreign key whose rows go with the row they point to (DTBase's CASCADE)."""
    return ForeignKey(target, ondelete="CASCADE", onupdate="CASCADE")
