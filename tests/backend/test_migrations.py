"""Alembic is the only author of the schema: the migrated database equals the ORM."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect

from dtbase.backend import migrate
from dtbase.backend.tables import Base
from dtbase.devdb import FAST_UNSAFE_OPTIONS, EmbeddedPostgres, free_port


def test_migrated_schema_matches_the_orm(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)

    assert diff == []


def test_migrations_go_down_to_nothing_and_up_again(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pgdata", free_port(), options=FAST_UNSAFE_OPTIONS)
    url = server.start()
    try:
        migrate.upgrade(url)
        migrate.downgrade(url, "base")

        engine = create_engine(url)
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) == {"alembic_version"}
            enums = connection.exec_driver_sql("SELECT typname FROM pg_type WHERE typtype='e'")
            assert enums.all() == []
        migrate.upgrade(url)
        with engine.connect() as connection:
            assert set(Base.metadata.tables) <= set(inspect(connection).get_table_names())
        engine.dispose()
    finally:
        server.stop()
