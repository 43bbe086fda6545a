"""Webhook delivery by a real backend to real HTTP receivers: what is sent, signatures,
retries, disabling, timeouts, and two backends sharing the work."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.app import create_app
from dtbase.backend.db import make_session_factory
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from dtbase.schemas.events import EventKind
from tests.utils.accounts import logged_in
from tests.utils.sensors import add_sensors
from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD
from tests.utils.webhooks import (
    Receiver,
    emit,
    pruned_through,
    receiving,
    verify,
    wait_until,
)

PATH = "/events/subscriptions"
MAX_FAILURES = 4
TIMEOUT_SECONDS = 0.5


def delivering(settings: BackendSettings, **changes: Any) -> BackendSettings:
    """The tests' backend settings, delivering webhooks with quick retries."""
    return settings.model_copy(
        update={
            "webhook_delivery_enabled": True,
            "webhook_retry_seconds": 0.05,
            "webhook_retry_max_seconds": 0.2,
            "webhook_max_failures": MAX_FAILURES,
            "webhook_timeout_seconds": TIMEOUT_SECONDS,
            **changes,
        }
    )


@pytest.fixture
def backend(
    settings: BackendSettings, database_url: str, clean_database: None
) -> Iterator[httpx.Client]:
    """A backend of its own that delivers webhooks, and an admin's client of it."""
    with (
        served(create_app(delivering(settings), database_url=database_url)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield logged_in(client, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as receiver:
        yield receiver


def subscribe(client: httpx.Client, receiver: Receiver, **fields: Any) -> str:
    body = {"name": "hook", "url": receiver.url, **fields}
    response = client.post(f"{PATH}/create", json=body)
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret"]
    return secret


def listed(client: httpx.Client) -> dict[str, Any]:
    response = client.post(f"{PATH}/list")
    assert response.status_code == 200, response.text
    (item,) = response.json()
    return dict(item)


def log_of(client: httpx.Client, name: str = "hook") -> list[dict[str, Any]]:
    response = client.post(f"{PATH}/delivery-log", json={"name": name, "limit": 200})
    assert response.status_code == 200, response.text
    return list(reversed(response.json()))


def test_matching_events_only_as_signed_cloud_events(
    backend: httpx.Client, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    emit(sessions, 2, sensor="a")  # before the subscription: not sent
    secret = subscribe(backend, receiver, query={"kind": "readings.stored", "sensor": "a"})
    emit(sessions, 1, sensor="b")
    emit(sessions, 1, sensor="a", kind=EventKind.sensor_created)
    emit(sessions, 3, sensor="a")
    wait_until(lambda: len(receiver.received) >= 3, what="three deliveries")
    time.sleep(0.5)  # room for anything that should not come

    assert receiver.ids() == [5, 6, 7]
    subscription_id = listed(backend)["id"]
    for number, delivered in enumerate(receiver.received):
        assert verify(secret, delivered.headers, delivered.body)
        assert not verify("another-secret-of-enough-length", delivered.headers, delivered.body)
        assert delivered.headers["content-type"] == "application/cloudevents+json"
        assert delivered.headers["x-dtbase-subscription"] == str(subscription_id)
        # The mapping itself is tested in tests/schemas/test_cloudevents.py.
        cloud_event = delivered.json
        assert cloud_event["source"] == "dtbase"  # DT_WEBHOOK_SOURCE
        assert cloud_event["subject"] == "a"
        assert cloud_event["data"]["id"] == delivered.event_id
        assert cloud_event["data"]["kind"] == "readings.stored"
        assert cloud_event["data"]["meta"]["count"] == number
    wait_until(lambda: listed(backend)["last_event_id"] == 7, what="the batch committed")
    item = listed(backend)
    assert item["last_success_at"] is not None
    assert [entry["event_id"] for entry in log_of(backend)] == [5, 6, 7]


def test_a_tampered_body_or_an_old_timestamp_fails_verification(
    backend: httpx.Client, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    secret = subscribe(backend, receiver)
    emit(sessions, 1)
    wait_until(lambda: len(receiver.received) == 1)
    delivered = receiver.received[0]
    assert verify(secret, delivered.headers, delivered.body)
    assert not verify(secret, delivered.headers, delivered.body.replace(b'"s1"', b'"s2"'))
    assert not verify(secret, delivered.headers, delivered.body, tolerance=-1)


def test_failures_are_retried_in_order_and_nothing_is_lost(
    backend: httpx.Client, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    receiver.fail_next = MAX_FAILURES - 1
    subscribe(backend, receiver)
    emit(sessions, 5)
    wait_until(lambda: len(receiver.accepted_ids()) == 5, what="five events taken")

    assert receiver.ids() == [1, 1, 1, 1, 2, 3, 4, 5]
    assert receiver.accepted_ids() == [1, 2, 3, 4, 5]
    # The log is written with the cursor, when the batch commits (after the receiver saw it).
    wait_until(lambda: listed(backend)["last_event_id"] == 5)
    attempts = [(e["event_id"], e["attempt"], e["status_code"]) for e in log_of(backend)]
    assert attempts[:5] == [(1, 1, 500), (1, 2, 500), (1, 3, 500), (1, 4, 200), (2, 1, 200)]
    item = listed(backend)
    assert (item["enabled"], item["consecutive_failures"]) == (True, 0)
    assert item["last_failure_reason"] == "The receiver answered 500."


def test_too_many_failures_disable_then_enable_resumes_from_the_cursor(
    backend: httpx.Client, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    receiver.fail_next = 1000
    receiver.fail_status = 503
    subscribe(backend, receiver)
    emit(sessions, 2)
    wait_until(lambda: not listed(backend)["enabled"], what="the subscription disabled")

    item = listed(backend)
    assert item["disabled_reason"] == (
        f"Disabled after {MAX_FAILURES} failed deliveries in a row; the last: "
        "The receiver answered 503."
    )
    assert item["consecutive_failures"] == MAX_FAILURES
    assert item["last_event_id"] == 0
    assert receiver.ids() == [1] * MAX_FAILURES
    emit(sessions, 2)  # kept for when it is enabled again
    time.sleep(0.5)
    assert len(receiver.received) == MAX_FAILURES

    receiver.fail_next = 0
    response = backend.post(f"{PATH}/enable", json={"name": "hook"})
    assert response.status_code == 200, response.text
    wait_until(lambda: listed(backend)["last_event_id"] == 4, what="all four taken")
    assert receiver.accepted_ids() == [1, 2, 3, 4]
    item = listed(backend)
    assert (item["enabled"], item["disabled_reason"]) == (True, None)


def test_a_receiver_that_hangs_fails_by_the_timeout(
    backend: httpx.Client, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    receiver.delay_seconds = TIMEOUT_SECONDS * 4
    subscribe(backend, receiver)
    emit(sessions, 1)
    wait_until(lambda: listed(backend)["consecutive_failures"] >= 1, what="a failure")

    (first, *_) = log_of(backend)
    assert first["status_code"] is None
    assert first["error"] == f"The receiver did not answer within {TIMEOUT_SECONDS:g} seconds."
    assert first["duration_seconds"] < TIMEOUT_SECONDS * 2
    assert listed(backend)["last_event_id"] == 0

    receiver.delay_seconds = 0
    wait_until(lambda: listed(backend)["last_event_id"] == 1, what="delivered once it answers")


def test_a_receiver_that_cannot_be_reached_fails_without_saying_why(
    backend: httpx.Client, sessions: sessionmaker[Session]
) -> None:
    with receiving() as gone:
        url = gone.url
    response = backend.post(f"{PATH}/create", json={"name": "hook", "url": url})
    assert response.status_code == 201, response.text
    emit(sessions, 1)
    wait_until(lambda: listed(backend)["consecutive_failures"] >= 1, what="a failure")
    (first, *_) = log_of(backend)
    assert (first["status_code"], first["error"]) == (None, "The receiver could not be reached.")


def test_redirects_are_not_followed(
    backend: httpx.Client, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    receiver.fail_next, receiver.fail_status = 1, 302
    subscribe(backend, receiver)
    emit(sessions, 1)
    wait_until(lambda: listed(backend)["last_event_id"] == 1, what="the batch committed")
    assert receiver.accepted_ids() == [1]
    assert [entry["status_code"] for entry in log_of(backend)] == [302, 200]


def test_two_backends_deliver_each_event_once_per_subscription(
    settings: BackendSettings,
    database_url: str,
    clean_database: None,
    sessions: sessionmaker[Session],
) -> None:
    with ExitStack() as stack:
        urls = [
            stack.enter_context(served(create_app(delivering(settings), database_url=database_url)))
            for _ in range(2)
        ]
        client = stack.enter_context(httpx.Client(base_url=urls[0], timeout=30))
        logged_in(client, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)
        receivers = [stack.enter_context(receiving()) for _ in range(4)]
        for number, receiver in enumerate(receivers):
            subscribe(client, receiver, name=f"hook-{number}")
        emit(sessions, 60)
        for receiver in receivers:
            wait_until(lambda r=receiver: len(r.received) >= 60, what="60 deliveries")  # type: ignore[misc]
        time.sleep(1)  # room for a second delivery, if one were to come

    for receiver in receivers:
        assert receiver.ids() == list(range(1, 61))


def test_events_of_the_write_paths_reach_the_receiver(
    backend: httpx.Client, receiver: Receiver
) -> None:
    """Through the real API: a sensor created and readings stored, each one webhook."""
    subscribe(backend, receiver, query={"sensor": "R1"})
    add_sensors(backend, "Station", [{"name": "t", "units": "K", "datatype": "float"}], ["R1"])
    readings = {
        "unique_identifier": "R1",
        "measure_name": "t",
        "readings": [1.0, 2.0],
        "timestamps": ["2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"],
    }
    response = backend.post("/sensor/insert-sensor-readings", json=readings)
    assert response.status_code == 201, response.text
    wait_until(lambda: len(receiver.received) == 2, what="two webhooks")

    kinds = [delivered.json["type"] for delivered in receiver.received]
    assert kinds == ["org.dtbase.sensor.created", "org.dtbase.readings.stored"]
    assert {delivered.json["subject"] for delivered in receiver.received} == {"R1"}
    assert receiver.received[1].json["data"]["meta"]["count"] == 2


def test_disabled_by_an_admin_nothing_is_sent_until_enabled(
    backend: httpx.Client, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    subscribe(backend, receiver)
    assert backend.post(f"{PATH}/disable", json={"name": "hook"}).status_code == 200
    emit(sessions, 3)
    time.sleep(1)
    assert receiver.received == []
    assert backend.post(f"{PATH}/enable", json={"name": "hook"}).status_code == 200
    wait_until(lambda: receiver.ids() == [1, 2, 3], what="the three events")


def test_after_a_rotation_requests_are_signed_with_the_new_secret(
    backend: httpx.Client, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    old = subscribe(backend, receiver)
    response = backend.post(f"{PATH}/rotate-secret", json={"name": "hook"})
    assert response.status_code == 200, response.text
    new = response.json()["secret"]
    emit(sessions, 1)
    wait_until(lambda: len(receiver.received) == 1)
    delivered = receiver.received[0]
    assert verify(new, delivered.headers, delivered.body)
    assert not verify(old, delivered.headers, delivered.body)


def test_a_changed_query_applies_to_the_events_not_yet_delivered(
    backend: httpx.Client, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    subscribe(backend, receiver, query={"sensor": "a"})
    assert backend.post(f"{PATH}/disable", json={"name": "hook"}).status_code == 200
    emit(sessions, 2, sensor="a")
    emit(sessions, 2, sensor="b")
    edit = {"name": "hook", "query": {"sensor": "b"}}
    assert backend.post(f"{PATH}/edit", json=edit).status_code == 200
    assert backend.post(f"{PATH}/enable", json={"name": "hook"}).status_code == 200
    wait_until(lambda: len(receiver.received) == 2, what="the two events of b")
    time.sleep(0.5)
    assert receiver.ids() == [3, 4]
    wait_until(lambda: listed(backend)["last_event_id"] == 4)


def test_events_pruned_while_a_subscription_failed_are_skipped_with_a_warning(
    settings: BackendSettings,
    database_url: str,
    clean_database: None,
    sessions: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    """A receiver down for longer than the retention: when it is back, the log says
    which events were pruned meanwhile, and delivery goes on with the oldest kept."""
    patient = delivering(settings, webhook_max_failures=1_000_000)
    with (
        served(create_app(patient, database_url=database_url)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        backend = logged_in(client, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)
        receiver.fail_next, receiver.fail_status = 1_000_000, 503
        subscribe(backend, receiver)
        emit(sessions, 3)
        wait_until(lambda: receiver.ids()[:1] == [1], what="a first, refused, try")

        pruned_through(sessions, 2)
        receiver.fail_next = 0
        wait_until(lambda: receiver.accepted_ids() == [3], what="event 3 delivered")
        wait_until(lambda: listed(backend)["last_event_id"] == 3, what="the batch committed")
        log = log_of(backend)
    warnings = [entry for entry in log if entry["attempt"] == 0]
    assert [entry["event_id"] for entry in warnings] == [2]
    assert warnings[0]["warning"].startswith(
        "Skipped up to 2 events: events 1 to 2 were deleted after the retention"
    )
    assert warnings[0]["error"] is None
    assert log[-1]["event_id"] == 3
    assert log[-1]["succeeded"] is True
