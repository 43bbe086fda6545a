"""Event triggers in tests: backends that run them, sensors whose readings make events,
and waiting for the runs they start."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from dtbase.backend.app import create_app
from dtbase.client import Client
from dtbase.core.settings import BackendSettings
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.services import RunStatus, ServiceRunDetails
from tests.utils.servers import served

T = TypeVar("T")

# How often the test backends' trigger workers look (the default is once a second).
POLL_SECONDS = 0.1


@contextmanager
def trigger_backend(settings: BackendSettings, database_url: str) -> Iterator[str]:
    """A backend that runs triggers (the tests' shared one does not), served over HTTP."""
    runs_triggers = settings.model_copy(
        update={"trigger_worker_enabled": True, "trigger_poll_seconds": POLL_SECONDS}
    )
    with served(create_app(runs_triggers, database_url=database_url)) as url:
        yield url


def add_thermometers(client: Client, uids: Sequence[str]) -> None:
    """A sensor type `thermometer` (measure `temperature`) and a sensor of it per uid."""
    measure = SensorMeasure(name="temperature", units="degrees Celsius", datatype="float")
    client.sensors.insert_sensor_type("thermometer", [measure])
    for uid in uids:
        client.sensors.insert_sensor("thermometer", uid)


def post_readings(client: Client, uid: str, count: int, start: datetime | None = None) -> None:
    """`count` readings of `uid`, a minute apart, in one request (one event)."""
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    times = [start + timedelta(minutes=i) for i in range(count)]
    client.sensors.insert_sensor_readings(
        "temperature", uid, [20.0 + i for i in range(count)], times
    )


def wait_for(check: Callable[[], T | None], timeout: float = 30, what: str = "it") -> T:
    """Ask `check` until it answers something (not None, not empty) or time is up."""
    deadline = time.monotonic() + timeout
    while not (answer := check()):
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.05)
    return answer


def finished_runs(client: Client, service: str, count: int) -> list[ServiceRunDetails]:
    """Wait until `service` has `count` runs, none of them pending; the runs."""

    def done() -> list[ServiceRunDetails] | None:
        runs = client.services.list_runs_details(service)
        if len(runs) >= count and all(run.status != RunStatus.pending for run in runs):
            return runs
        return None

    return wait_for(done, what=f"{count} finished runs of {service}")
