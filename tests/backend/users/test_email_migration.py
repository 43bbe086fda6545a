"""Migration 0012 makes one email one account whatever its case, keeping every account
that existed (issue 15, item 11)."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
import pytest

from dtbase.backend import migrate
from dtbase.devdb import FAST_UNSAFE_OPTIONS, EmbeddedPostgres, free_port

BEFORE = "0011"  # the revision before 0012


def test_accounts_differing_only_in_case_are_kept_and_renamed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = EmbeddedPostgres(tmp_path / "pgdata", free_port(), options=FAST_UNSAFE_OPTIONS)
    url = server.start()
    try:
        migrate.upgrade(url, BEFORE)
        with psycopg.connect(url.replace("+psycopg", "")) as connection:
            for email in ("ana@example.org", "Ana@Example.org", "ANA@EXAMPLE.ORG", "bo@x.org"):
                connection.execute(
                    "INSERT INTO users (email, password_hash, role) VALUES (%s, 'h', 'user')",
                    [email],
                )

        with caplog.at_level(logging.WARNING):
            migrate.upgrade(url)

        with psycopg.connect(url.replace("+psycopg", "")) as connection:
            emails = [row[0] for row in connection.execute("SELECT email FROM users ORDER BY id")]
            with pytest.raises(psycopg.errors.UniqueViolation):
                connection.execute(
                    "INSERT INTO users (email, password_hash, role) VALUES (%s, 'h', 'user')",
                    ["BO@x.org"],
                )
    finally:
        server.stop()

    assert emails == [
        "ana@example.org",
        "duplicate-2-Ana@Example.org",
        "duplicate-3-ANA@EXAMPLE.ORG",
        "bo@x.org",
    ]
    assert "renamed to duplicate-2-Ana@Example.org" in caplog.text
