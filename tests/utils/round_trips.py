"""Round trips to PostgreSQL, counted in the wire protocol itself.

libpq traces the messages of every connection while an engine has it checked out; the
server ends each round trip with a ReadyForQuery message. So BEGIN and COMMIT count too,
which SQLAlchemy's statement events do not see.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from psycopg import pq
from sqlalchemy import Engine, event

from dtbase.backend.async_reads import AsyncReads


class RoundTrips:
    def __init__(self, trace: Path) -> None:
        self.trace = trace

    def count(self) -> int:
        """Round trips since the last reset (of connections checked in since then)."""
        return self.trace.read_text().count("\tReadyForQuery\t")

    def reset(self) -> None:
        self.trace.write_text("")


@contextmanager
def round_trips(
    engine: Engine, trace: Path, reads: AsyncReads | None = None
) -> Iterator[RoundTrips]:
    """Counts the round trips of `engine`'s connections (and of `reads`' pool, the reads
    awaited in the event loop), into the file `trace`."""
    trace.write_text("")
    target = os.open(trace, os.O_WRONLY | os.O_APPEND)
    tracing: dict[int, int] = {}

    def checkout(connection: Any, *_: Any) -> None:
        # A descriptor of its own: libpq keeps it until `untrace`.
        tracing[id(connection)] = descriptor = os.dup(target)
        connection.pgconn.trace(descriptor)
        connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

    def checkin(connection: Any, *_: Any) -> None:
        descriptor = tracing.pop(id(connection), None)
        if descriptor is not None:
            connection.pgconn.untrace()  # flushes what it wrote
            os.close(descriptor)

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    if reads is not None:
        # psycopg's pool has no checkout event: its connections are traced while lent.
        lend = reads.connection

        @asynccontextmanager
        async def lent(*args: Any, **options: Any) -> AsyncIterator[Any]:
            async with lend(*args, **options) as connection:
                checkout(connection)
                try:
                    yield connection
                finally:
                    checkin(connection)

        reads.connection = lent  # type: ignore[method-assign]
    try:
        yield RoundTrips(trace)
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
        if reads is not None:
            del reads.connection  # the class's again
        os.close(target)
