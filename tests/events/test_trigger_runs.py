"""Triggers at work: real writes make events, a real backend's worker turns bursts into
runs of a real HTTP service, and the runs land in the run log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta

import pytest

from dtbase.client import Client
from dtbase.core.settings import BackendSettings
from dtbase.schemas.events import EventOut, EventPage
from tests.utils.stub_service import StubService
from tests.utils.triggers import (
    POLL_SECONDS,
    add_thermometers,
    finished_runs,
    post_readings,
    trigger_backend,
    wait_for,
)

DEBOUNCE = 1.5
TEMPLATE = {"sensor": "{sensor}", "from": "{first}", "to": "{last}", "readings": "{count}"}


@pytest.fixture(scope="module")
def runs_triggers(settings: BackendSettings, database_url: str) -> Iterator[str]:
    with trigger_backend(settings, database_url) as url:
        yield url


@pytest.fixture
def svc(client: Client, stub: StubService, runs_triggers: str) -> Client:
    """The service `svc` (the stub, answering 200) and thermometers A, B and C."""
    client.services.insert_service("svc", stub.url("/json"), "POST")
    add_thermometers(client, ["A", "B", "C"])
    return client


def _events(client: Client, **query: str) -> list[EventOut]:
    response = client.send("GET", "/events/list", params={"limit": "10000", **query})
    return EventPage.model_validate(response.json()).events


def test_a_burst_runs_once_per_sensor_after_the_quiet_time(svc: Client, stub: StubService) -> None:
    svc.triggers.create_trigger(
        "t",
        "svc",
        {"kind": "readings.stored", "sensor": ["A", "B"]},
        parameters=TEMPLATE,
        debounce_seconds=DEBOUNCE,
    )
    start = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    for i in range(10):
        post_readings(svc, "AB"[i % 2], 3, start + timedelta(hours=i))
    post_readings(svc, "C", 3)  # not in the query

    runs = finished_runs(svc, "svc", 2)
    time.sleep(DEBOUNCE + 5 * POLL_SECONDS)  # a few more looks: still two runs

    assert len(svc.services.list_runs_details("svc")) == 2
    sent = sorted((r.json for r in stub.received), key=lambda body: body["sensor"])
    assert sent == [
        {
            "sensor": "A",
            "from": "2026-01-01T00:00:00Z",
            "to": "2026-01-01T08:02:00Z",
            "readings": 15,
        },
        {
            "sensor": "B",
            "from": "2026-01-01T01:00:00Z",
            "to": "2026-01-01T09:02:00Z",
            "readings": 15,
        },
    ]
    # The run log says which trigger and which events started each run.
    burst = [e for e in _events(svc, kind="readings.stored") if e.meta["sensor"] in "AB"]
    last_event = max(event.time for event in burst)
    for run in runs:
        assert run.status == "succeeded"
        assert run.trigger_name == "t"
        assert run.schedule_name is None
        sensor = run.parameters["sensor"]
        ids = [e.id for e in _events(svc, kind="readings.stored", sensor=sensor)]
        assert run.trigger_event_ids == ids
        # Not before the burst had been quiet for the debounce time.
        assert run.timestamp - last_event >= timedelta(seconds=DEBOUNCE)
    [trigger] = svc.triggers.list_triggers()
    assert trigger.last_run_id in {run.id for run in runs}
    assert (trigger.pending_events, trigger.pending_runs, trigger.burst_started_at) == (0, 0, None)


def test_a_parameter_set_is_sent_as_it_is_once_per_burst(svc: Client, stub: StubService) -> None:
    svc.services.insert_parameter_set("svc", "ps", {"fixed": True})
    svc.triggers.create_trigger(
        "t",
        "svc",
        {"kind": "readings.stored"},
        parameter_set_name="ps",
        debounce_seconds=0.5,
    )
    for uid in "ABC":
        post_readings(svc, uid, 2)

    [run] = finished_runs(svc, "svc", 1)

    assert [r.json for r in stub.received] == [{"fixed": True}]
    assert run.parameter_set_name == "ps"
    assert len(run.trigger_event_ids or []) == 3


def test_a_disabled_trigger_does_nothing_and_enabled_runs_only_what_came_after(
    svc: Client, stub: StubService
) -> None:
    svc.triggers.create_trigger(
        "t",
        "svc",
        {"kind": "readings.stored"},
        parameters=TEMPLATE,
        debounce_seconds=0.2,
        enabled=False,
    )
    post_readings(svc, "A", 2)
    time.sleep(0.2 + 10 * POLL_SECONDS)

    assert svc.services.list_runs_details("svc") == []
    assert stub.received == []

    svc.triggers.enable_trigger("t")
    post_readings(svc, "B", 2)
    [run] = finished_runs(svc, "svc", 1)
    assert run.parameters["sensor"] == "B"

    # Disabled with a burst waiting: the burst is dropped.
    svc.triggers.edit_trigger("t", debounce_seconds=3600)
    post_readings(svc, "C", 2)
    wait_for(lambda: svc.triggers.list_triggers()[0].pending_events, what="the burst")
    svc.triggers.disable_trigger("t")
    [trigger] = svc.triggers.list_triggers()
    assert (trigger.enabled, trigger.pending_events) == (False, 0)


def test_a_failing_service_is_logged_and_the_trigger_goes_on(
    client: Client, stub: StubService, runs_triggers: str
) -> None:
    client.services.insert_service("svc", stub.url("/status/500"), "POST")
    add_thermometers(client, ["A"])
    client.triggers.create_trigger("t", "svc", {"kind": "readings.stored"}, debounce_seconds=0)

    post_readings(client, "A", 1)
    [first] = finished_runs(client, "svc", 1)
    post_readings(client, "A", 1, datetime.fromisoformat("2026-02-01T00:00:00+00:00"))
    runs = finished_runs(client, "svc", 2)

    assert first.status == "failed"
    assert [run.status for run in runs] == ["failed", "failed"]
    assert [run.response_status_code for run in runs] == [500, 500]
    assert client.triggers.list_triggers()[0].enabled


def test_a_deleted_trigger_leaves_its_runs_in_the_log(svc: Client) -> None:
    svc.triggers.create_trigger("t", "svc", {"kind": "readings.stored"}, debounce_seconds=0)
    post_readings(svc, "A", 1)
    [run] = finished_runs(svc, "svc", 1)

    svc.triggers.delete_trigger("t")

    [kept] = svc.services.list_runs_details("svc")
    assert (kept.id, kept.trigger_name, kept.trigger_event_ids) == (
        run.id,
        None,
        run.trigger_event_ids,
    )


def test_two_more_backends_on_one_database_run_each_burst_once(
    svc: Client, stub: StubService, settings: BackendSettings, database_url: str
) -> None:
    """Three backends (this module's and two more) look at the same triggers: each burst
    and sensor is run once, by one of them."""
    uids = [f"S{i}" for i in range(8)]
    for uid in uids:
        svc.sensors.insert_sensor("thermometer", uid)
    for index in range(4):
        svc.triggers.create_trigger(
            f"t{index}",
            "svc",
            {"kind": "readings.stored", "sensor_type": "thermometer"},
            parameters={"trigger": index, "sensor": "{sensor}"},
            debounce_seconds=0.5,
        )
    with ExitStack() as backends:
        for _ in range(2):
            backends.enter_context(trigger_backend(settings, database_url))
        for round_ in range(3):
            for uid in uids:
                post_readings(
                    svc, uid, 2, datetime.fromisoformat(f"202{round_}-01-01T00:00:00+00:00")
                )
        runs = finished_runs(svc, "svc", 4 * len(uids))
        time.sleep(0.5 + 10 * POLL_SECONDS)

    sent = sorted((r.json["trigger"], r.json["sensor"]) for r in stub.received)
    # One burst (the posts came faster than the debounce) or more, but never an event
    # twice: every event is in exactly one run of each trigger.
    events = [e.id for e in _events(svc, kind="readings.stored", sensor_type="thermometer")]
    for index in range(4):
        covered = sorted(
            event_id
            for run in svc.services.list_runs_details("svc")
            if run.trigger_name == f"t{index}"
            for event_id in run.trigger_event_ids or []
        )
        assert covered == sorted(events), index
    assert len(sent) == len(svc.services.list_runs_details("svc")) >= len(runs)
    assert {pair for pair in sent} == {(i, uid) for i in range(4) for uid in uids}
