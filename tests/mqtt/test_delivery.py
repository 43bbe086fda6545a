"""Nothing the broker accepted is lost: the bridge killed with SIGKILL while devices
publish, and the backend stopped for 10 s under load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dtbase.backend.app import create_app
from dtbase.client import Client
from dtbase.core.settings import BackendSettings
from dtbase.devdb import free_port
from dtbase.mqtt import devices
from dtbase.mqtt.broker import LocalBroker
from dtbase.mqtt.config import MqttSettings
from tests.mqtt.helpers import (
    PASSWORD,
    START,
    Device,
    RestartableBackend,
    add_sensors,
    device,
    readings,
    running_bridge,
    wait_until,
)

EPOCH_MS = int(START.timestamp() * 1000)
REPO = Path(__file__).resolve().parents[2]


class Publisher(threading.Thread):
    """Publishes `count` readings, one per message, each with its own time; `acked` counts
    the ones the broker acknowledged (those must all be stored)."""

    def __init__(self, d: Device, topic: str, count: int, per_second: float) -> None:
        super().__init__(daemon=True)
        self.d, self.topic, self.count, self.pause = d, topic, count, 1 / per_second
        self.acked = 0

    def run(self) -> None:
        for number in range(self.count):
            self.d.publish(self.topic, {"ts": EPOCH_MS + number, "values": {"count": number}})
            self.acked += 1
            time.sleep(self.pause)


@pytest.fixture
def bridge_process(
    live_backend: str, mqtt_settings: MqttSettings
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start `dtbase mqtt bridge` processes on demand (killed at the end)."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def start_bridge(live_backend: str, settings: MqttSettings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DT_DATA_DIR": str(settings.data_dir),
        "DT_MQTT_PORT": str(settings.mqtt_port),
        "DT_MQTT_CLIENT_ID": settings.mqtt_client_id,
        "DT_MQTT_BATCH_MILLISECONDS": "50",
    }
    settings.status_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dtbase",
            "mqtt",
            "bridge",
            "--backend-url",
            live_backend,
            "--password",
            PASSWORD,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def connected() -> bool:
        assert process.poll() is None, "the bridge exited"
        try:
            return bool(json.loads(settings.status_file.read_text())["connected"])
        except (FileNotFoundError, ValueError):
            return False

    wait_until(connected, timeout=30)
    return process


def test_bridge_killed_mid_publish_loses_nothing(
    client: Client,
    live_backend: str,
    broker: LocalBroker,
    mqtt_settings: MqttSettings,
    bridge_process: list[subprocess.Popen[bytes]],
) -> None:
    add_sensors(client, "S1")
    secret = devices.add(broker, "S1")
    total = 3000
    bridge_process.append(start_bridge(live_backend, mqtt_settings))
    with device(mqtt_settings.mqtt_port, "S1", secret) as d:
        publisher = Publisher(d, mqtt_settings.readings_topic("S1"), total, per_second=1000)
        publisher.start()
        wait_until(lambda: publisher.acked >= total // 3)
        bridge_process[0].send_signal(signal.SIGKILL)
        bridge_process[0].wait()
        stored_at_kill = len(readings(client, "S1", "count"))
        wait_until(lambda: publisher.acked >= 2 * total // 3)
        bridge_process.append(start_bridge(live_backend, mqtt_settings))
        publisher.join(60)
        assert publisher.acked == total
        wait_until(lambda: len(readings(client, "S1", "count")) == total, timeout=60)

    assert 0 < stored_at_kill < total
    assert [r.value for r in readings(client, "S1", "count")] == list(range(total))


def test_backend_stopped_for_ten_seconds_under_load_loses_nothing(
    client: Client,
    settings: BackendSettings,
    database_url: str,
    broker: LocalBroker,
    mqtt_settings: MqttSettings,
) -> None:
    add_sensors(client, "S1")
    secret = devices.add(broker, "S1")
    backend = RestartableBackend(create_app(settings, database_url=database_url), free_port())
    backend.start()
    total = 3000
    try:
        with (
            running_bridge(mqtt_settings, backend.url) as bridge,
            device(mqtt_settings.mqtt_port, "S1", secret) as d,
        ):
            publisher = Publisher(d, mqtt_settings.readings_topic("S1"), total, per_second=200)
            publisher.start()
            wait_until(lambda: publisher.acked >= 200)
            backend.stop()
            time.sleep(10)
            stored_while_down = len(readings(client, "S1", "count"))
            backend.start()
            publisher.join(60)
            wait_until(lambda: len(readings(client, "S1", "count")) == total, timeout=60)
            retries = bridge.counters["backend_retries"]
    finally:
        backend.stop()

    assert stored_while_down < publisher.acked  # the outage held readings back
    assert retries > 0
    assert [r.value for r in readings(client, "S1", "count")] == list(range(total))
    # The traffic reports that failed meanwhile were sent again with the next.
    assert client.mqtt.sensor_activity("S1").messages == total


def test_sigterm_stops_the_bridge_promptly_while_devices_publish(
    client: Client,
    live_backend: str,
    broker: LocalBroker,
    mqtt_settings: MqttSettings,
    bridge_process: list[subprocess.Popen[bytes]],
) -> None:
    """`dtbase up` and containers stop the bridge with SIGTERM, at any point of its work.
    Its handler once ran in the thread that ran the bridge and could wait for a lock that
    very thread held: the bridge then never stopped. A clean stop loses nothing."""
    add_sensors(client, "S1")
    secret = devices.add(broker, "S1")
    total = 4000
    bridge_process.append(start_bridge(live_backend, mqtt_settings))  # the session starts
    with device(mqtt_settings.mqtt_port, "S1", secret) as d:
        publisher = Publisher(d, mqtt_settings.readings_topic("S1"), total, per_second=2000)
        publisher.start()
        for _ in range(4):
            time.sleep(0.5)
            bridge_process[-1].send_signal(signal.SIGTERM)
            assert bridge_process[-1].wait(15) == 0
            bridge_process.append(start_bridge(live_backend, mqtt_settings))
        publisher.join(60)
        assert publisher.acked == total
        wait_until(lambda: len(readings(client, "S1", "count")) == total, timeout=60)

    assert [r.value for r in readings(client, "S1", "count")] == list(range(total))
