"""Migrations under dtbase's advisory lock: backends starting together on one database."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, make_url, pool, text

from dtbase.backend import migrate
from dtbase.backend.tables import Base


@pytest.fixture
def fresh_database(database_url: str) -> Iterator[str]:
    """An empty database of its own on the session's server."""
    name = f"fresh_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _assert_at_head(url: str) -> None:
    heads = set(ScriptDirectory.from_config(migrate.alembic_config(url)).get_heads())
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert set(context.get_current_heads()) == heads
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_concurrent_upgrades_of_a_fresh_database_both_succeed(fresh_database: str) -> None:
    workers = 3
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def upgrade() -> None:
        barrier.wait()
        try:
            migrate.upgrade(fresh_database)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=upgrade, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    _assert_at_head(fresh_database)


def test_an_upgrade_waits_for_the_lock(fresh_database: str) -> None:
    done = threading.Event()
    errors: list[BaseException] = []

    def upgrade() -> None:
        try:
            migrate.upgrade(fresh_database)
        except BaseException as error:
            errors.append(error)
        done.set()

    engine = create_engine(fresh_database, poolclass=pool.NullPool)
    with migrate.migration_lock(fresh_database):
        thread = threading.Thread(target=upgrade, daemon=True)
        thread.start()
        # Wait until the upgrade is blocked on the advisory lock, then check it did nothing.
        deadline = time.monotonic() + 60
        while not _waiting_for_advisory_lock(engine):
            assert time.monotonic() < deadline, "the upgrade never asked for the lock"
            assert not done.is_set(), errors
            time.sleep(0.05)
        with engine.connect() as connection:
            assert inspect(connection).get_table_names() == []
        assert not done.is_set()
    thread.join(timeout=120)
    engine.dispose()

    assert errors == []
    _assert_at_head(fresh_database)


def _waiting_for_advisory_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()"
            )
        ).scalar_one()
    return bool(waiting)
