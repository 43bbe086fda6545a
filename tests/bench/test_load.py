"""`bench/load.py`'s load generator against the backend as the image runs it: every
answer counted by operation, every error counted as what it is, and every insert it
counts as acknowledged found in the database, reading by reading."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dtbase.devdb import free_port
from tests.utils.settings import DEFAULT_PASSWORD

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
import load


@pytest.fixture(scope="module")
def backend_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The backend as the image runs it (`dtbase serve backend`, a process of its own)."""
    settings = {"DT_DEFAULT_USER_PASS": DEFAULT_PASSWORD}
    folder = tmp_path_factory.mktemp("load")
    with load.backend(database_url, folder, workers=1, background=False, settings=settings) as url:
        yield url


def test_every_answer_and_acknowledged_insert_is_counted(
    backend_url: str, clean_database: None
) -> None:
    load.load_week(backend_url, DEFAULT_PASSWORD)
    writes = load.Writes()
    token = load.token_of(backend_url, DEFAULT_PASSWORD)
    tally = load.drive(backend_url, token, writes, clients=4, processes=2, seconds=2)

    assert (sum(tally.non_2xx.values()), sum(tally.transport_errors.values())) == (0, 0)
    assert set(tally.latencies) == {name for name, _ in load.MIX}
    for name, times in tally.latencies.items():
        # Each answer the app's, with its timing and stamps read from the headers.
        assert len(tally.server[name]) == len(tally.parts[name]) == len(times) > 0
    assert 0 < tally.generator_cpu < tally.seconds * 2
    # The inserts acknowledged while measured and while warming up, each slot once.
    assert len(writes.acknowledged) >= len(tally.latencies["insert-100"])
    assert len(set(writes.acknowledged)) == len(writes.acknowledged)
    assert load.check_writes(backend_url, writes, DEFAULT_PASSWORD) == (
        len(writes.acknowledged),
        0,
    )
    # A second run writes slots of its own.
    before = len(writes.acknowledged)
    load.drive(backend_url, token, writes, clients=3, processes=1, seconds=1)
    assert len(set(writes.acknowledged)) == len(writes.acknowledged) > before
    assert load.check_writes(backend_url, writes, DEFAULT_PASSWORD)[1] == 0


def test_answers_other_than_2xx_are_counted_with_their_detail(backend_url: str) -> None:
    writes = load.Writes()
    tally = load.drive(backend_url, "not-a-token", writes, clients=2, processes=1, seconds=1)

    assert sum(tally.non_2xx.values()) == tally.requests() > 0
    assert sum(tally.transport_errors.values()) == 0
    assert list(tally.failures) == ["401"]
    assert "detail" in tally.failures["401"]
    assert writes.acknowledged == []


def test_a_server_that_is_not_there_is_transport_errors_not_a_hang() -> None:
    writes = load.Writes()
    began = time.monotonic()
    tally = load.drive(
        f"http://127.0.0.1:{free_port()}", "token", writes, clients=2, processes=2, seconds=1
    )

    assert time.monotonic() - began < 30
    assert tally.requests() == 0
    assert sum(tally.transport_errors.values()) > 0
    assert "ConnectionRefusedError" in tally.failures
