"""`dtbase db`: the database's URL, its migrations, the embedded server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from dtbase.core.settings import DatabaseSettings

if TYPE_CHECKING:
    from dtbase.devdb import EmbeddedPostgres

db_app = typer.Typer(help="The database: URL, migrations, the embedded server.")


@db_app.command("url")
def db_url() -> None:
    """Print the SQLAlchemy URL of the database in use."""
    settings = DatabaseSettings()
    typer.echo(settings.external_database_url() or embedded(settings).url)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="An Alembic revision id.")] = "head",
) -> None:
    """Apply migrations (starting the embedded database for the time it takes)."""
    with database(DatabaseSettings(), revision=revision):
        pass
    typer.echo(f"Database migrated to {revision}.")


@db_app.command("revision")
def db_revision(message: str) -> None:
    """Write the next numbered migration: what the ORM tables have and the database lacks.

    The database is the one `db url` prints (DT_DATABASE_URL or DT_SQL_HOST, else the
    embedded one under DT_DATA_DIR), migrated to head first.
    """
    from dtbase.backend.migrate import revision

    with database(DatabaseSettings()) as url:
        path = revision(url, message)
    typer.echo(f"Wrote {path}.")


@db_app.command("start")
def db_start() -> None:
    """Start the embedded database and leave it running (for psql, notebooks, tools)."""
    settings = DatabaseSettings()
    typer.echo(embedded(settings).start())


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded database."""
    embedded(DatabaseSettings()).stop()


def embedded(settings: DatabaseSettings) -> EmbeddedPostgres:
    from dtbase.devdb import EmbeddedPostgres

    return EmbeddedPostgres(settings.data_dir.resolve() / "pgdata", settings.embedded_port)


@contextmanager
def database(settings: DatabaseSettings, revision: str = "head") -> Iterator[str]:
    """The database URL, migrated to `revision`; an embedded server started here is stopped
    on exit."""
    from dtbase.backend.migrate import upgrade

    url = settings.external_database_url()
    if url is not None:
        upgrade(url, revision)
        yield url
        return
    server = embedded(settings)
    started_here = server.running_port() is None
    try:  # a signal may stop us while the server starts: it is stopped all the same
        url = server.start()
        upgrade(url, revision)
        yield url
    finally:
        if started_here:
            server.stop()
