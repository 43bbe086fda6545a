"""Events older than the retention are deleted in the background, in batches, by every
backend at once if need be."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from dtbase.backend.app import create_app
from dtbase.backend.db import make_session_factory
from dtbase.backend.events.pruning import EventPruner
from dtbase.backend.events.record import record_many
from dtbase.core.settings import BackendSettings
from dtbase.schemas.events import EventKind

READINGS = EventKind.readings_stored


def _events_aged(engine: Engine, ages_in_days: list[float]) -> None:
    """One event per age, that many days old."""
    with make_session_factory(engine).begin() as session:
        record_many(session, [(READINGS, {"sensor": f"{age}"}) for age in ages_in_days])
        session.execute(
            text(
                "UPDATE event SET time = now() - make_interval(secs => (meta->>'sensor')::float"
                " * 86400)"
            )
        )


def _left(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT meta->>'sensor' FROM event ORDER BY id"))
        return [row[0] for row in rows]


def test_old_events_go_in_batches_and_new_ones_stay(engine: Engine, clean_database: None) -> None:
    _events_aged(engine, [9, 8.5, 6.9, 8, 0, 7.01])
    pruner = EventPruner(make_session_factory(engine), retention_days=7, batch=3)

    assert pruner.run_once() is True  # a full batch: maybe more
    assert len(_left(engine)) == 3
    assert pruner.run_once() is False
    assert _left(engine) == ["6.9", "0"]
    assert pruner.run_once() is False  # nothing more: idempotent
    assert _left(engine) == ["6.9", "0"]


def test_several_pruners_at_once_delete_each_event_once(
    engine: Engine, clean_database: None
) -> None:
    _events_aged(engine, [10.0] * 500 + [1.0] * 5)
    factory = make_session_factory(engine)
    pruners = [EventPruner(factory, retention_days=7, batch=50) for _ in range(4)]

    def drain(pruner: EventPruner) -> None:
        while pruner.run_once():
            pass

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(drain, pruners))

    assert _left(engine) == ["1.0"] * 5


def test_the_backend_prunes_on_its_own(
    engine: Engine, database_url: str, settings: BackendSettings, clean_database: None
) -> None:
    _events_aged(engine, [3, 0.5])
    app = create_app(
        settings.model_copy(update={"events_retention_days": 2}), database_url=database_url
    )

    with TestClient(app):
        deadline = time.monotonic() + 10
        while _left(engine) != ["0.5"] and time.monotonic() < deadline:
            time.sleep(0.05)

    assert _left(engine) == ["0.5"]
