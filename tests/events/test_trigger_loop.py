"""The loop guard, for real: a trigger on the ARIMA model's runs that runs the ARIMA
service, which writes that model's runs. Each run makes the events of the next, so only the
cap on a trigger's runs per hour stops it: the trigger is disabled, with the reason."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dtbase.client import Client
from dtbase.core.settings import BackendSettings
from services.host import create_app as services_host
from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD
from tests.utils.triggers import POLL_SECONDS, add_thermometers, trigger_backend, wait_for

CAP = 3
FORECAST = {"measures": ["temperature"], "training_days": 7, "horizon_hours": 6, "seasons": []}


@pytest.fixture
def arima(
    client: Client,
    live_backend: str,
    settings: BackendSettings,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Client]:
    """The real ARIMA service on the services host, registered as `arima`; thermometer T1
    with a week of hourly readings; a backend that runs triggers."""
    monkeypatch.setenv("DT_BACKEND_URL", live_backend)
    monkeypatch.setenv("DT_DEFAULT_USER_PASS", DEFAULT_PASSWORD)
    add_thermometers(client, ["T1"])
    hours = 24 * 8
    last = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    times = [last - timedelta(hours=hours - 1 - i) for i in range(hours)]
    rng = np.random.default_rng(3)
    values = [float(18 + 4 * np.sin(i / 24 * 2 * np.pi) + rng.normal(0, 0.3)) for i in range(hours)]
    client.sensors.insert_sensor_readings("temperature", "T1", values, times)
    with served(services_host()) as host, trigger_backend(settings, database_url):
        client.services.insert_service("arima", f"{host}/api/arima", "POST")
        yield client


def test_a_trigger_on_its_own_services_output_is_disabled_by_the_loop_guard(
    arima: Client,
) -> None:
    arima.triggers.create_trigger(
        "forecast-again",
        "arima",
        {"kind": "model_run.stored", "model": "Arima"},
        parameters={"sensors": "{sensor}", **FORECAST},  # the run's linked sensors: a list
        debounce_seconds=0,
        max_runs_per_hour=CAP,
    )

    # The first forecast, by hand: its model runs start the loop.
    first = arima.services.run_service("arima", parameters={"sensors": ["T1"], **FORECAST})
    assert first.succeeded, first.response_json

    def disabled() -> str | None:
        [trigger] = arima.triggers.list_triggers()
        return None if trigger.enabled else trigger.disabled_reason

    reason = wait_for(disabled, timeout=120, what="the loop guard")
    time.sleep(20 * POLL_SECONDS)

    assert "loop guard" in reason
    assert f"max_runs_per_hour of {CAP}" in reason
    runs = arima.services.list_runs_details("arima")
    by_trigger = [run for run in runs if run.trigger_name == "forecast-again"]
    assert len(by_trigger) == CAP
    assert len(runs) == CAP + 1  # and no more after it was disabled
    for run in by_trigger:
        assert run.status == "succeeded", run.response_json
        # `{sensor}` alone took the model run's list of linked sensors as it is.
        assert run.parameters == {"sensors": ["T1"], **FORECAST}
