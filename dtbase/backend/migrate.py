"""Alembic, driven from Python: the only way dtbase's schema is created or changed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, pool, text

MIGRATIONS = Path(__file__).parent / "migrations"
# The key of the PostgreSQL advisory lock held while migrating ("dtbase-m" as a bigint).
# Any fixed number works as long as nothing else in the database uses it.
MIGRATION_LOCK_KEY = int.from_bytes(b"dtbase-m", "big", signed=True)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option(
        "file_template",
        "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s",
    )
    # ConfigParser interpolation would read a '%' in a quoted password as a placeholder.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@contextmanager
def migration_lock(database_url: str) -> Iterator[None]:
    """Hold dtbase's migration lock: one migration at a time per database.

    Two backends (or `dtbase db upgrade` beside a starting backend) may migrate one
    database at once; without the lock both would see an old revision and both would run
    its migrations, colliding on the tables the other creates. The lock is taken on a
    connection of its own, so Alembic's transaction is unchanged; a waiter then finds the
    database migrated and has nothing to do. It is a transaction lock held by an open
    transaction: PostgreSQL releases it if this process dies, and a pooler in transaction
    mode (PgBouncer) keeps the transaction on one server connection.
    """
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
            yield
    finally:
        engine.dispose()


def upgrade(database_url: str, revision: str = "head") -> None:
    with migration_lock(database_url):
        command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    with migration_lock(database_url):
        command.downgrade(alembic_config(database_url), revision)


def revision(database_url: str, message: str) -> None:
    """Write a migration for what the ORM has and the (migrated) database lacks."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
