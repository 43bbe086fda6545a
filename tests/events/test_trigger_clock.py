"""When a burst runs, on a clock the test controls: the worker looks (`tick(now)`) right
after each event of a steady stream, as a real one would, so what it does depends on the
events' times only, not on how fast this machine is today."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from dtbase.backend.db import make_session_factory
from dtbase.backend.events.triggers_worker import TriggerWorker
from dtbase.backend.services.runs import BackgroundRuns
from dtbase.client import Client
from dtbase.schemas.events import EventOut, EventPage
from tests.utils.stub_service import StubService, local_policy
from tests.utils.triggers import add_thermometers, post_readings

# The worker looks at each event's own time, when the stream has been quiet for no time at
# all: during the stream only the maximum wait can start a run.
DEBOUNCE = MAX_WAIT = 1.0
START = datetime.fromisoformat("2026-01-01T00:00:00+00:00")


@pytest.fixture
def worker(engine: Engine) -> Iterator[TriggerWorker]:
    """A worker of the test's own (the shared backend runs none)."""
    factory = make_session_factory(engine)
    runs = BackgroundRuns(factory, policy=local_policy(5), workers=2)
    yield TriggerWorker(factory, runs)
    runs.shutdown()


def _tick(worker: TriggerWorker, now: datetime) -> int:
    """Look at `now`, wait for the runs started; how many."""
    futures = worker.tick(now)
    for future in futures:
        future.result(timeout=30)
    return len(futures)


def test_a_steady_stream_runs_at_the_maximum_wait_then_when_quiet(
    client: Client, stub: StubService, worker: TriggerWorker
) -> None:
    client.services.insert_service("svc", stub.url("/json"), "POST")
    add_thermometers(client, ["A"])
    client.triggers.create_trigger(
        "t",
        "svc",
        {"kind": "readings.stored"},
        parameters={"to": "{last}"},
        debounce_seconds=DEBOUNCE,
        max_wait_seconds=MAX_WAIT,
    )

    started_during_the_stream = 0
    for minute in range(16):
        post_readings(client, "A", 1, START + timedelta(minutes=minute))
        [event] = _events(client)[-1:]
        started_during_the_stream += _tick(worker, event.time)
        time.sleep(0.3)
    last = _events(client)[-1]
    started_when_quiet = _tick(worker, last.time + timedelta(seconds=DEBOUNCE))

    # Sixteen events at least 0.3 s apart: a run at least every fifth event. How many
    # exactly depends on how far apart this machine wrote them; the rest, once quiet.
    times = [event.time for event in _events(client)]
    assert (started_during_the_stream, started_when_quiet) == _runs_at_maximum_wait(times)
    assert started_during_the_stream >= 3
    runs = client.services.list_runs_details("svc")
    assert len(runs) == started_during_the_stream + started_when_quiet
    events = {event.id: event.time for event in _events(client)}
    covered = [event_id for run in runs for event_id in run.trigger_event_ids or []]
    assert sorted(covered) == sorted(events)
    for run in runs[:-1]:
        first = min(events[event_id] for event_id in run.trigger_event_ids or [])
        assert run.timestamp - first >= timedelta(seconds=MAX_WAIT)
    # Each run was sent the time of the last reading of its own part of the stream.
    position = {event_id: index for index, event_id in enumerate(sorted(events))}
    expected = [
        START
        + timedelta(minutes=max(position[event_id] for event_id in run.trigger_event_ids or []))
        for run in runs
    ]
    sent = [datetime.fromisoformat(received.json["to"]) for received in stub.received]
    assert sent == expected


def _runs_at_maximum_wait(times: list[datetime]) -> tuple[int, int]:
    """The runs a worker looking at each event's own time starts during the stream (the
    maximum wait since the burst's first event has passed), and then once it is quiet
    (one if a burst is left)."""
    during, first = 0, None
    for time_ in times:
        first = first or time_
        if time_ - first >= timedelta(seconds=MAX_WAIT):
            during, first = during + 1, None
    return during, int(first is not None)


def _events(client: Client) -> list[EventOut]:
    response = client.send("GET", "/events/list", params={"kind": "readings.stored"})
    return EventPage.model_validate(response.json()).events
