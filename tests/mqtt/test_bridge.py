"""The bridge against a real Mosquitto and the real backend: both payload forms, every
datatype, bad messages reported on the error topic, devices confined to their sensor."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from dtbase.client import ApiError, Client
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.mqtt import devices
from dtbase.mqtt.bridge import Batch, Bridge, Message
from dtbase.mqtt.broker import LocalBroker
from dtbase.mqtt.config import MqttSettings
from tests.mqtt.helpers import (
    PASSWORD,
    START,
    add_sensors,
    device,
    readings,
    running_bridge,
    wait_until,
)

EPOCH_S = START.timestamp()
EPOCH_MS = int(EPOCH_S * 1000)


def test_senml_and_plain_forms_store_every_datatype(
    client: Client, live_backend: str, broker: LocalBroker, mqtt_settings: MqttSettings
) -> None:
    add_sensors(client, "S1")
    secret = devices.add(broker, "S1")
    topic = mqtt_settings.readings_topic("S1")
    senml = [
        {"bn": "urn:dev:S1:", "bt": EPOCH_S, "n": "temperature", "u": "degC", "v": 21.5},
        {"n": "count", "v": 3},
        {"n": "door_open", "vb": True, "t": 1},
        {"n": "status", "vs": "ok", "t": 2},
    ]
    plain = [
        {"ts": EPOCH_MS + 10_000, "values": {"temperature": 22, "count": 4, "door_open": False}},
        {"ts": "2026-01-01T00:00:11Z", "values": {"status": "fine"}},
    ]
    with (
        running_bridge(mqtt_settings, live_backend),
        device(broker.settings.mqtt_port, "S1", secret) as d,
    ):
        d.publish(topic, senml)
        d.publish(topic, plain)
        wait_until(lambda: len(readings(client, "S1", "status")) == 2)
        wait_until(lambda: len(readings(client, "S1", "temperature", "degC")) == 2)

    temperature = readings(client, "S1", "temperature", "degC")
    assert [(r.timestamp, r.value) for r in temperature] == [
        (START, 21.5),
        (START + timedelta(seconds=10), 22.0),
    ]
    assert [r.value for r in readings(client, "S1", "count")] == [3, 4]
    door = readings(client, "S1", "door_open")
    assert [(r.timestamp, r.value) for r in door] == [
        (START + timedelta(seconds=1), True),
        (START + timedelta(seconds=10), False),
    ]
    assert [r.value for r in readings(client, "S1", "status")] == ["ok", "fine"]


def test_a_reading_without_time_gets_the_receive_time(
    client: Client, live_backend: str, broker: LocalBroker, mqtt_settings: MqttSettings
) -> None:
    add_sensors(client, "S1")
    secret = devices.add(broker, "S1")
    with (
        running_bridge(mqtt_settings, live_backend),
        device(broker.settings.mqtt_port, "S1", secret) as d,
    ):
        from datetime import UTC, datetime

        before = datetime.now(UTC)
        d.publish(mqtt_settings.readings_topic("S1"), {"values": {"count": 7}})
        wait_until(lambda: len(readings(client, "S1", "count")) == 1)
        after = datetime.now(UTC)
    [stored] = readings(client, "S1", "count")
    assert before - timedelta(seconds=1) <= stored.timestamp <= after
    assert stored.value == 7


BAD_MESSAGES = [
    (b"{not json", "not_json"),
    (b'[{"n": "temperature", "v": NaN}]', "not_finite"),
    (b'{"values": {"temperature": 1e400}}', "not_finite"),
    (b'[{"n": "humidity", "v": 50}]', "unknown_measure"),
    (b'[{"n": "temperature", "u": "degF", "v": 70}]', "unknown_measure"),
    (b'[{"n": "count", "v": 2.5}]', "wrong_datatype"),
    (b'{"values": {"door_open": "yes"}}', "wrong_datatype"),
    (b'[{"n": "status", "v": 1}]', "wrong_datatype"),
    (b'{"ts": "yesterday", "values": {"count": 1}}', "bad_time"),
    # An integer no float holds: it stopped the bridge (OverflowError) instead.
    (b'[{"n": "count", "v": 1, "t": 1' + b"0" * 400 + b"}]", "not_finite"),
    (b'"just a string"', "bad_form"),
    (b"[]", "bad_form"),
]


def test_each_bad_message_is_reported_and_good_ones_still_land(
    client: Client, live_backend: str, broker: LocalBroker, mqtt_settings: MqttSettings
) -> None:
    add_sensors(client, "S1")
    secret = devices.add(broker, "S1")
    topic = mqtt_settings.readings_topic("S1")
    with (
        running_bridge(mqtt_settings, live_backend) as bridge,
        device(broker.settings.mqtt_port, "S1", secret) as d,
    ):
        d.watch(mqtt_settings.errors_topic("S1"))
        for number, (payload, _) in enumerate(BAD_MESSAGES):
            d.publish(topic, payload)
            d.publish(topic, {"ts": EPOCH_MS + number, "values": {"count": number}})
        wait_until(lambda: len(d.errors) == len(BAD_MESSAGES))
        wait_until(lambda: len(readings(client, "S1", "count")) == len(BAD_MESSAGES))
        status = bridge.status()

    assert [e["cause"] for e in d.errors] == [cause for _, cause in BAD_MESSAGES]
    assert all(e["reason"] for e in d.errors)
    assert [r.value for r in readings(client, "S1", "count")] == list(range(len(BAD_MESSAGES)))
    assert status["errors"]["wrong_datatype"] == 3
    activity = client.mqtt.sensor_activity("S1")  # reported when the bridge stopped
    assert activity.errors == len(BAD_MESSAGES)
    assert activity.messages == len(BAD_MESSAGES)  # the good ones
    assert activity.last_message_at is not None
    newest_first = [e["cause"] for e in reversed(d.errors[-10:])]
    assert [e.cause for e in activity.recent_errors] == newest_first


def test_an_unknown_sensor_is_reported_on_its_error_topic(
    client: Client, live_backend: str, broker: LocalBroker, mqtt_settings: MqttSettings
) -> None:
    add_sensors(client, "S1")
    ghost = devices.add(broker, "GHOST")
    with (
        running_bridge(mqtt_settings, live_backend),
        device(broker.settings.mqtt_port, "GHOST", ghost) as d,
    ):
        d.watch(mqtt_settings.errors_topic("GHOST"))
        d.publish(mqtt_settings.readings_topic("GHOST"), {"values": {"count": 1}})
        wait_until(lambda: len(d.errors) == 1)
    assert d.errors[0]["cause"] == "unknown_sensor"
    assert "GHOST" in d.errors[0]["reason"]


def test_a_device_may_not_publish_for_another_sensor(
    client: Client, live_backend: str, broker: LocalBroker, mqtt_settings: MqttSettings
) -> None:
    add_sensors(client, "S1", "S2")
    secret = devices.add(broker, "S1")
    devices.add(broker, "S2")
    port = broker.settings.mqtt_port
    with running_bridge(mqtt_settings, live_backend):
        # Mosquitto 2.0.11 answers "not authorized" and may then drop the connection: the
        # device's own reading goes over a connection of its own.
        with device(port, "S1", secret) as intruder:
            refused = intruder.publish(
                mqtt_settings.readings_topic("S2"), {"ts": EPOCH_MS, "values": {"count": 1}}
            )
        with device(port, "S1", secret) as d:
            d.publish(mqtt_settings.readings_topic("S1"), {"ts": EPOCH_MS, "values": {"count": 2}})
        wait_until(lambda: len(readings(client, "S1", "count")) == 1)
    assert intruder.refused == [refused]
    assert readings(client, "S2", "count") == []


@pytest.mark.parametrize(
    ("user", "password"),
    [(None, None), ("S1", "wrong-password"), ("dtbase-bridge", "guess")],
)
def test_the_broker_refuses_unknown_credentials(
    broker: LocalBroker, user: str | None, password: str | None
) -> None:
    devices.add(broker, "S1")
    with device(broker.settings.mqtt_port, user, password) as d:
        assert d.connect_reason is not None
        assert d.connect_reason.is_failure


def test_removed_credentials_are_refused(broker: LocalBroker) -> None:
    secret = devices.add(broker, "S1")
    assert devices.devices(broker) == ["S1"]
    devices.remove(broker, "S1")
    assert devices.devices(broker) == []
    with device(broker.settings.mqtt_port, "S1", secret) as d:
        assert d.connect_reason is not None
        assert d.connect_reason.is_failure


def test_a_batch_waits_no_longer_than_its_age_limit(
    client: Client, live_backend: str, broker: LocalBroker, mqtt_settings: MqttSettings
) -> None:
    add_sensors(client, "S1")
    secret = devices.add(broker, "S1")
    settings = mqtt_settings.model_copy(update={"mqtt_batch_milliseconds": 200})
    with (
        running_bridge(settings, live_backend) as bridge,
        device(broker.settings.mqtt_port, "S1", secret) as d,
    ):
        for number in range(50):
            d.publish(
                settings.readings_topic("S1"),
                {"ts": EPOCH_MS + number, "values": {"count": number}},
            )
        started = time.monotonic()
        d.publish(settings.readings_topic("S1"), {"ts": EPOCH_MS + 99, "values": {"count": 99}})
        wait_until(lambda: len(readings(client, "S1", "count")) == 51)
        waited = time.monotonic() - started
        batches = bridge.counters["batches"]
    assert waited < 1.0
    assert batches < 51  # batched, not one request per message


def test_a_huge_measure_name_does_not_stop_the_traffic_reports(
    client: Client, live_backend: str, broker: LocalBroker, mqtt_settings: MqttSettings
) -> None:
    """The error's reason quotes the device's measure name: a reason longer than the
    activity report admits made every later report a 422, for every sensor."""
    add_sensors(client, "S1")
    secret = devices.add(broker, "S1")
    topic = mqtt_settings.readings_topic("S1")
    with (
        running_bridge(mqtt_settings, live_backend) as bridge,
        device(broker.settings.mqtt_port, "S1", secret) as d,
    ):
        d.watch(mqtt_settings.errors_topic("S1"))
        d.publish(topic, {"ts": EPOCH_MS, "values": {"x" * 5000: 1}})
        d.publish(topic, {"ts": EPOCH_MS, "values": {"count": 1}})
        wait_until(lambda: len(d.errors) == 1)
        wait_until(lambda: len(readings(client, "S1", "count")) == 1)
        status = bridge.status()

    assert d.errors[0]["cause"] == "unknown_measure"
    assert "report_failures" not in status["counters"]
    activity = client.mqtt.sensor_activity("S1")  # reported when the bridge stopped
    assert (activity.messages, activity.errors) == (1, 1)
    assert activity.recent_errors[0].reason.startswith("no single measure 'xxx")


class BrokenWriter(Bridge):
    """A bridge whose storing fails in a way nobody planned for."""

    def _store(self, batch: Batch) -> None:
        raise ZeroDivisionError("a bug")


def test_a_failing_writer_stops_the_bridge_loudly(
    client: Client, live_backend: str, broker: LocalBroker, mqtt_settings: MqttSettings
) -> None:
    """Storing runs in its own thread: its death must end `run` with the error, not
    leave a bridge that receives and never stores."""
    add_sensors(client, "S1")
    secret = devices.add(broker, "S1")
    with Client.logged_in(live_backend, DEFAULT_USER_EMAIL, PASSWORD) as backend:
        bridge = BrokenWriter(mqtt_settings, backend)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                bridge.run()
            except RuntimeError as error:
                failure.append(error)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert bridge.connected.wait(20)
        with device(broker.settings.mqtt_port, "S1", secret) as d:
            d.publish(mqtt_settings.readings_topic("S1"), {"values": {"count": 1}})
            thread.join(20)

    assert not thread.is_alive()
    assert isinstance(failure[0].__cause__, ZeroDivisionError)
    assert readings(client, "S1", "count") == []


class SlowBackend(Bridge):
    """A bridge whose backend takes 0.3 s per request."""

    def _post(self, messages: list[Message]) -> ApiError | None:
        time.sleep(0.3)
        return super()._post(messages)


def test_a_backend_slower_than_the_devices_gets_few_large_batches(
    client: Client, live_backend: str, broker: LocalBroker, mqtt_settings: MqttSettings
) -> None:
    """While the writer stores a batch, what arrives waits past the age limit: it must
    fill the next batch, not go one message per request (each taking the backend's
    0.3 s, and the devices outrunning the bridge for good)."""
    add_sensors(client, "S1")
    secret = devices.add(broker, "S1")
    total = 300
    with Client.logged_in(live_backend, DEFAULT_USER_EMAIL, PASSWORD) as backend:
        bridge = SlowBackend(mqtt_settings, backend)
        thread = threading.Thread(target=bridge.run, daemon=True)
        thread.start()
        assert bridge.connected.wait(10)
        try:
            with device(broker.settings.mqtt_port, "S1", secret) as d:
                for number in range(total):  # for about 1.5 s
                    d.publish(
                        mqtt_settings.readings_topic("S1"),
                        {"ts": EPOCH_MS + number, "values": {"count": number}},
                    )
                    time.sleep(0.005)
            wait_until(lambda: len(readings(client, "S1", "count")) == total)
        finally:
            bridge.stop()
            thread.join(10)

    assert [r.value for r in readings(client, "S1", "count")] == list(range(total))
    assert bridge.counters["batches"] <= 15
