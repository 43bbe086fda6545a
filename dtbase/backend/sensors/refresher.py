"""A background thread that rolls up freshly written readings (see `rollups`).

Reads refresh the dirty ranges they touch themselves, so this is not needed for correct
answers: it moves the cost out of requests, so that the first plot after a bulk load does
not pay for rolling up millions of readings. Several backends on one database may each run
one: `rollups.refresh` serialises them per series.
"""

from __future__ import annotations

from psycopg import Connection
from sqlalchemy import Engine

from dtbase.backend.periodic import Periodic
from dtbase.backend.sensors import rollups


class RollupRefresher:
    def __init__(self, engine: Engine, *, interval_seconds: float) -> None:
        self.engine = engine
        self._periodic = Periodic(
            "dtbase-rollups", self._refresh, interval_seconds=interval_seconds
        )

    def run_once(self) -> int:
        """Roll up every dirty range now; how many ranges were cleaned."""
        with self.engine.connect() as outer:
            connection = outer.connection.driver_connection
            assert isinstance(connection, Connection)
            connection.rollback()  # `refresh` opens its own transactions
            return rollups.refresh_all(connection)

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()

    def _refresh(self) -> bool:
        self.run_once()
        return False
