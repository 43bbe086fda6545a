"""Alembic, driven from Python: the only way dtbase's schema is created or changed."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from sqlalchemy import create_engine, pool, text

MIGRATIONS = Path(__file__).parent / "migrations"
# The key of the PostgreSQL advisory lock held while migrating ("dtbase-m" as a bigint).
# Any fixed number works as long as nothing else in the database uses it.
MIGRATION_LOCK_KEY = int.from_bytes(b"dtbase-m", "big", signed=True)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
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


def revision(database_url: str, message: str, *, versions: Path | None = None) -> Path:
    """Write a migration for what the ORM has and the (migrated) database lacks.

    The file is numbered like the others (`YYYY_MM_DD_NNNN_slug.py`, revision "NNNN" after
    the current head) and passed through ruff, so it is lint-clean as written. `versions`
    writes it somewhere other than the package's versions folder (the tests do).
    """
    config = alembic_config(database_url)
    if versions is not None:
        config.set_main_option("version_locations", str(versions))
    number = next_revision_number(ScriptDirectory.from_config(config))
    script = command.revision(config, message=message, autogenerate=True, rev_id=number)
    assert isinstance(script, Script)  # one script: autogenerate without branches
    path = Path(script.path)
    _tidy(path)
    return path


def next_revision_number(scripts: ScriptDirectory) -> str:
    """The four-digit number after the head's ("0014" after "0013")."""
    head = scripts.get_current_head()
    if head is None:
        return "0001"
    if not head.isdigit():
        raise ValueError(f"The head revision {head!r} is not numbered: cannot number the next.")
    return f"{int(head) + 1:04d}"


def _tidy(path: Path) -> None:
    """Autogenerate's imports, unused names and long lines, fixed as `make format` would,
    with the project's ruff settings (ruff reads them from the working directory for a file
    outside the project).

    ruff is a development dependency; without it the file is left as generated.
    """
    ruff = _ruff()
    if ruff is None:
        print(f"ruff is not installed: run `ruff check --fix` and `ruff format` on {path}")
        return
    project = MIGRATIONS.parents[2]
    subprocess.run([*ruff, "check", "--fix-only", "--quiet", str(path)], cwd=project, check=True)
    subprocess.run([*ruff, "format", "--quiet", str(path)], cwd=project, check=True)


def _ruff() -> list[str] | None:
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    found = shutil.which("ruff")
    return [found] if found is not None else None
