from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from dtbase.devdb import FAST_UNSAFE_OPTIONS, EmbeddedPostgres, free_port


def test_data_survive_a_restart_and_other_processes_connect_over_tcp(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pgdata", free_port())
    url = server.start()
    plain = url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute("CREATE TABLE kept (value text)")
        connection.execute("INSERT INTO kept VALUES ('still here')")
    server.stop()
    assert server.running_port() is None

    assert server.start() == url
    with psycopg.connect(plain) as connection:
        assert connection.execute("SELECT value FROM kept").fetchall() == [("still here",)]
    server.stop()


def test_starting_twice_reuses_the_running_server(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pgdata", free_port(), options=FAST_UNSAFE_OPTIONS)
    server.start()
    try:
        assert server.start() == server.url
        other_port = EmbeddedPostgres(server.pgdata, free_port())
        with pytest.raises(RuntimeError, match="already runs on port"):
            other_port.start()
    finally:
        server.stop()


def test_a_taken_port_is_reported(tmp_path: Path) -> None:
    first = EmbeddedPostgres(tmp_path / "one", free_port(), options=FAST_UNSAFE_OPTIONS)
    first.start()
    try:
        second = EmbeddedPostgres(tmp_path / "two", first.port, options=FAST_UNSAFE_OPTIONS)
        with pytest.raises(RuntimeError, match="is taken"):
            second.start()
    finally:
        first.stop()
