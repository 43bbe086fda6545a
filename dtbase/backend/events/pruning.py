"""Events older than the retention (`DT_EVENTS_RETENTION_DAYS`) deleted in the background.

Every backend process runs a pruner; with several on one database they may delete at the
same time: each batch is a DELETE bounded by the database's clock, so a row is deleted
once and a batch that finds its rows gone deletes fewer. Batches keep each transaction
short; the next comes at once while there is more to delete.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.periodic import Periodic

PRUNE_EVERY_SECONDS = 600.0
BATCH = 10_000

_PRUNE = text(
    "DELETE FROM event WHERE id IN (SELECT id FROM event"
    " WHERE time < now() - make_interval(secs => :seconds) ORDER BY time LIMIT :batch)"
).bindparams(bindparam("seconds"), bindparam("batch"))


def prune(session: Session, *, retention_days: float, batch: int = BATCH) -> int:
    """Delete up to `batch` of the events older than `retention_days`; how many."""
    result = session.execute(_PRUNE, {"seconds": retention_days * 86_400, "batch": batch})
    return int(getattr(result, "rowcount", 0))


class EventPruner:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        retention_days: float,
        interval_seconds: float = PRUNE_EVERY_SECONDS,
        batch: int = BATCH,
    ) -> None:
        self.session_factory = session_factory
        self.retention_days = retention_days
        self.batch = batch
        self._periodic = Periodic(
            "dtbase-events-pruner", self.run_once, interval_seconds=interval_seconds
        )

    def run_once(self) -> bool:
        """One batch; whether there may be more."""
        with self.session_factory.begin() as session:
            deleted = prune(session, retention_days=self.retention_days, batch=self.batch)
        return deleted == self.batch

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()
