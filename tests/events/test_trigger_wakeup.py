"""The trigger worker does not wait for its next look when there is something to do: a
commit wakes it (LISTEN), and it wakes itself when a waiting burst falls due. Here its
looks are half a minute apart, so a run within seconds can only come from a wake-up."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from dtbase.backend.app import create_app
from dtbase.client import Client
from dtbase.core.settings import BackendSettings
from tests.utils.servers import served
from tests.utils.stub_service import StubService
from tests.utils.triggers import add_thermometers, finished_runs, post_readings

LOOKS_APART = 30.0


@pytest.fixture(scope="module")
def slow_looks(settings: BackendSettings, database_url: str) -> Iterator[str]:
    """A backend whose trigger worker looks only every half minute by itself."""
    slow = settings.model_copy(
        update={"trigger_worker_enabled": True, "trigger_poll_seconds": LOOKS_APART}
    )
    with served(create_app(slow, database_url=database_url)) as url:
        time.sleep(0.5)  # its first look is over
        yield url


@pytest.fixture
def svc(client: Client, stub: StubService, slow_looks: str) -> Client:
    client.services.insert_service("svc", stub.url("/json"), "POST")
    add_thermometers(client, ["A"])
    return client


@pytest.mark.parametrize("debounce", [0.0, 1.0])
def test_a_commit_or_a_burst_falling_due_wakes_the_worker(svc: Client, debounce: float) -> None:
    svc.triggers.create_trigger("t", "svc", {"kind": "readings.stored"}, debounce_seconds=debounce)
    time.sleep(0.5)  # the trigger's own events woke the worker: it is waiting again

    started = time.monotonic()
    post_readings(svc, "A", 1)
    [run] = finished_runs(svc, "svc", 1)

    assert time.monotonic() - started < LOOKS_APART / 3
    assert run.trigger_name == "t"
