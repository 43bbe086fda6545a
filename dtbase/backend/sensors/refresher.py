"""A background thread that rolls up freshly written readings (see `rollups`).

Reads refresh the dirty ranges they touch themselves, so this is not needed for correct
answers: it moves the cost out of requests, so that the first plot after a bulk load does
not pay for rolling up millions of readings.

Every backend process runs one (`dtbase serve backend --workers N`, N replicas), but one
pass at a time per database: a pass holds a session-level advisory lock, and a refresher
that finds it taken skips its turn instead of queueing behind the pass series by series
(`rollups.refresh` would make that safe, but N processes would each hold a connection
and re-read every series' ranges after the one that did the work).
"""

from __future__ import annotations

from psycopg import Connection
from sqlalchemy import Engine

from dtbase.backend.periodic import Periodic
from dtbase.backend.sensors import rollups

# The key of the advisory lock a refresher's pass holds ("dtbase-r" as a bigint); a
# session-level lock, so that it spans the pass's many transactions.
PASS_LOCK_KEY = int.from_bytes(b"dtbase-r", "big")
TRY_LOCK = "SELECT pg_try_advisory_lock(%s)"


class RollupRefresher:
    def __init__(self, engine: Engine, *, interval_seconds: float) -> None:
        self.engine = engine
        self._periodic = Periodic(
            "dtbase-rollups", self._refresh, interval_seconds=interval_seconds
        )

    def run_once(self) -> int | None:
        """Roll up every dirty range now; how many ranges were cleaned, None if another
        refresher's pass is under way (then it does the work)."""
        with self.engine.connect() as outer:
            connection = outer.connection.driver_connection
            assert isinstance(connection, Connection)
            connection.rollback()  # `refresh` opens its own transactions
            locked = connection.execute(TRY_LOCK, (PASS_LOCK_KEY,)).fetchone() == (True,)
            connection.commit()  # a session-level lock outlives its transaction
            if not locked:
                return None
            try:
                return rollups.refresh_all(connection)
            finally:
                connection.rollback()
                connection.execute("SELECT pg_advisory_unlock(%s)", (PASS_LOCK_KEY,))
                connection.commit()

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()

    def _refresh(self) -> bool:
        self.run_once()
        return False
