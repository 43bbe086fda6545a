"""Schedules and runs without waiting through dtbase's typed client."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from dtbase.client import ApiError, Client
from dtbase.schemas.services import RunStatus
from tests.utils.stub_service import StubService

FAR = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


def test_schedules_through_the_client(client: Client) -> None:
    services = client.services
    services.insert_service("svc", "http://127.0.0.1:9/x", "POST")
    services.insert_parameter_set("svc", "ps", {"a": 1})

    services.insert_schedule("svc", "s", interval_seconds=60, start_at=FAR, parameter_set_name="ps")
    [schedule] = services.list_schedules("svc")
    assert (schedule.name, schedule.interval_seconds, schedule.next_run_at) == ("s", 60, FAR)
    assert schedule.parameter_set_name == "ps"

    services.edit_schedule("svc", "s", cron="0 6 * * *", time_zone="Europe/Paris", enabled=False)
    services.edit_schedule("svc", "s", parameter_set_name=None)
    [schedule] = services.list_schedules()
    assert (schedule.cron, schedule.interval_seconds, schedule.time_zone) == (
        "0 6 * * *",
        None,
        "Europe/Paris",
    )
    assert (schedule.enabled, schedule.next_run_at, schedule.parameter_set_name) == (
        False,
        None,
        None,
    )

    with pytest.raises(ApiError) as error:
        services.insert_schedule("svc", "bad", cron="0 6 * * *", time_zone="Paris")
    assert error.value.status_code == 422

    services.delete_schedule("svc", "s")
    assert services.list_schedules() == []


def test_start_a_run_and_follow_it(client: Client, stub: StubService) -> None:
    client.services.insert_service("svc", stub.url("/json"), "POST")

    started = client.services.start_service_run("svc", parameters={"b": 2})

    deadline = time.monotonic() + 20
    while (run := client.services.list_runs_details()[0]).status is RunStatus.pending:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert run.id == started.run_id
    assert (run.status, run.response_status_code, run.parameters) == (
        RunStatus.succeeded,
        200,
        {"b": 2},
    )
