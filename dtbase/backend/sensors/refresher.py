"""A background thread that rolls up freshly written readings (see `rollups`).

Reads refresh the dirty ranges they touch themselves, so this is not needed for correct
answers: it moves the cost out of requests, so that the first plot after a bulk load does
not pay for rolling up millions of readings. Several backends on one database may each run
one: `rollups.refresh` serialises them per series.
"""

from __future__ import annotations

import logging
import threading

from psycopg import Connection
from sqlalchemy import Engine

from dtbase.backend.sensors import rollups

logger = logging.getLogger(__name__)


class RollupRefresher:
    def __init__(self, engine: Engine, *, interval_seconds: float) -> None:
        self.engine = engine
        self.interval_seconds = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Roll up every dirty range now; how many ranges were cleaned."""
        with self.engine.connect() as outer:
            connection = outer.connection.driver_connection
            assert isinstance(connection, Connection)
            connection.rollback()  # `refresh` opens its own transactions
            return rollups.refresh_all(connection)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="dtbase-rollups", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                self.run_once()
            except Exception:
                # The database may be briefly unreachable: try again at the next interval.
                logger.exception("Rolling up readings failed")
