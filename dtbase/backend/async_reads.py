"""Small reads awaited in the event loop, on psycopg's async connections: the caller's
lookup for async endpoints, and the busiest small reads (`list-sensors`, `user/me`).

A sync endpoint's small read pays for a worker-thread hop (the thread woken, then the
event loop again) and a SQLAlchemy session besides its round trips to PostgreSQL. Over
HTTP, one client, `list-sensors` (the caller's lookup and the sensors) took 1.69 ms that
way and 1.03 ms with the same two statements awaited here; a bare FastAPI GET took 0.58 ms
(docs/performance.md, "Fourth pass"). While a statement is awaited the event loop
serves other requests. An endpoint whose reads are all awaited here (`list-sensors`,
`user/me`) still takes its turn at the requests' gate (`one_thread.awaits_reads`), first
come first served with every other request; the lookups of the other async endpoints
(event streams, service runs, password changes) do not wait there, as before.

Only statements compiled from a `select` are sent (`db.Precompiled`), each on its own
(autocommit, as `db.without_transaction` reads): no BEGIN and no COMMIT, and nothing
written. A connection found dead (the database restarted under us) fails its request
with the 503 every dead connection gets (`errors`), and the pool drops the others that
died with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVarTuple

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url

from dtbase.backend.db import Precompiled

# Connections per process for these reads. Each is held for one statement's round trip
# (a fraction of a millisecond), so a few serve many requests at once; they are beside the
# SQLAlchemy pool's, which every other request uses.
READ_CONNECTIONS = 4
POOL_WAIT_SECONDS = 5.0

Columns = TypeVarTuple("Columns")


class AsyncReads:
    """The pool, made anew by each `open` (an app's start-up, in the event loop that will
    use it: a served app may be stopped and served again, in another loop)."""

    def __init__(self, database_url: str, *, connections: int = READ_CONNECTIONS) -> None:
        self._conninfo = make_url(database_url).set(drivername="postgresql")
        self._connections = connections
        self._pool: AsyncConnectionPool | None = None
        self._checking: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Start a pool; it connects in the background."""
        self._pool = AsyncConnectionPool(
            self._conninfo.render_as_string(hide_password=False),
            min_size=1,
            max_size=self._connections,
            open=False,
            # As `db.make_engine`: every statement reads and writes time in UTC.
            kwargs={"autocommit": True, "options": "-c timezone=UTC"},
            # A request waits this long for a connection: a read takes well under a
            # millisecond, so only a database that does not answer makes it wait long,
            # and then its client gets the 503 soon rather than after 30 s.
            timeout=POOL_WAIT_SECONDS,
            name="dtbase-async-reads",
        )
        await self._pool.open(wait=False)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def connection(self) -> AbstractAsyncContextManager[AsyncConnection[Any]]:
        """A connection of the pool, given back when done."""
        if self._pool is None:
            raise RuntimeError("The awaited reads' pool is not open (the app has not started)")
        return self._pool.connection()

    async def rows(
        self, query: Precompiled[*Columns], **parameters: object
    ) -> Sequence[tuple[*Columns]]:
        """The rows of `query` with these parameters (as `Precompiled.rows` gives them)."""
        async with self.connection() as connection:
            try:
                cursor = await connection.execute(query.sql, query.defaults | parameters)
                rows: Sequence[tuple[*Columns]] = await cursor.fetchall()
                return rows
            except psycopg.OperationalError:
                if connection.closed:
                    self._drop_dead()
                raise

    def _drop_dead(self) -> None:
        """Check the pool's idle connections (once at a time), dropping the dead: after a
        restart of the database they all are."""
        if self._pool is not None and (self._checking is None or self._checking.done()):
            self._checking = asyncio.get_running_loop().create_task(self._pool.check())
