"""Login sessions past their expiry, deleted in the background.

A session's row is garbage once its latest refresh token has expired (`expires_at`): no
token of it is accepted any more. A login deletes its own user's expired sessions, but a
user who never logs in again (a script, someone who left) would leave theirs for ever:
this sweep takes them.

Every backend process runs a sweeper; with several on one database each batch locks the
rows it deletes and skips those another sweeper holds, so none waits for another and a
row is deleted once. The outer condition is checked again on the locked row, so a session
refreshed meanwhile (a later `expires_at`) stays.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.periodic import Periodic

SWEEP_EVERY_SECONDS = 600.0
BATCH = 10_000
# Rows are kept this long past their expiry: the database's clock may run ahead of the
# backend's, which issued the token and decides when it expires.
MARGIN_SECONDS = 300.0

_SWEEP = text(
    "DELETE FROM auth_sessions WHERE expires_at < now() - make_interval(secs => :margin)"
    " AND id IN (SELECT id FROM auth_sessions"
    " WHERE expires_at < now() - make_interval(secs => :margin)"
    " LIMIT :batch FOR UPDATE SKIP LOCKED)"
).bindparams(bindparam("margin"), bindparam("batch"))


def sweep(session: Session, *, batch: int = BATCH, margin_seconds: float = MARGIN_SECONDS) -> int:
    """Delete up to `batch` expired sessions; how many."""
    result = session.execute(_SWEEP, {"margin": margin_seconds, "batch": batch})
    return int(getattr(result, "rowcount", 0))


class SessionSweeper:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        interval_seconds: float = SWEEP_EVERY_SECONDS,
        batch: int = BATCH,
    ) -> None:
        self.session_factory = session_factory
        self.batch = batch
        self._periodic = Periodic(
            "dtbase-session-sweeper", self.run_once, interval_seconds=interval_seconds
        )

    def run_once(self) -> bool:
        """One batch; whether there may be more."""
        with self.session_factory.begin() as session:
            return sweep(session, batch=self.batch) == self.batch

    def start(self) -> SessionSweeper:
        self._periodic.start()
        return self

    def stop(self) -> None:
        self._periodic.stop()
