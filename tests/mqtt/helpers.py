"""What the MQTT tests share: a device (a paho client with credentials), a bridge running
in a thread, and waiting for readings to be stored."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from dtbase.client import Client
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.mqtt.bridge import Bridge
from dtbase.mqtt.config import MqttSettings

# The backend's default user in tests (tests/conftest.py).
PASSWORD = "default-password-for-tests"

MEASURES: list[dict[str, Any]] = [
    {"name": "temperature", "units": "degC", "datatype": "float"},
    {"name": "count", "units": None, "datatype": "integer"},
    {"name": "door_open", "units": None, "datatype": "boolean"},
    {"name": "status", "units": None, "datatype": "string"},
]
START = datetime(2026, 1, 1, tzinfo=UTC)


def add_sensors(client: Client, *names: str) -> None:
    client.sensors.insert_sensor_type("weather-station", MEASURES)
    for name in names:
        client.sensors.insert_sensor("weather-station", name)


class Device:
    """An MQTT 5 client publishing at QoS 1; `refused` holds the mids the broker refused
    (PUBACK with a failure reason), `errors` what arrived on the error topic it watches."""

    def __init__(self, port: int, user: str | None, password: str | None) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        if user is not None:
            self.client.username_pw_set(user, password)
        self.refused: list[int] = []
        self.errors: list[dict[str, Any]] = []
        self.connect_reason: ReasonCode | None = None
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_message = lambda c, u, m: self.errors.append(json.loads(m.payload))
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self._connected.wait(10)

    def _on_connect(self, c: Any, u: Any, f: Any, reason: ReasonCode, p: Any) -> None:
        self.connect_reason = reason
        self._connected.set()

    def _on_publish(self, c: Any, u: Any, mid: int, reason: ReasonCode, p: Any) -> None:
        if reason.is_failure:
            self.refused.append(mid)

    def watch(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        assert self._subscribed.wait(10)

    def publish(self, topic: str, payload: Any) -> int:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        info = self.client.publish(topic, data, qos=1)
        info.wait_for_publish(10)
        return info.mid

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def device(port: int, user: str | None, password: str | None) -> Iterator[Device]:
    connected = Device(port, user, password)
    try:
        yield connected
    finally:
        connected.close()


@contextmanager
def running_bridge(settings: MqttSettings, backend_url: str) -> Iterator[Bridge]:
    with Client.logged_in(backend_url, DEFAULT_USER_EMAIL, PASSWORD) as client:
        bridge = Bridge(settings, client)
        thread = threading.Thread(target=bridge.run, daemon=True)
        thread.start()
        assert bridge.connected.wait(10), "the bridge did not subscribe"
        try:
            yield bridge
        finally:
            bridge.stop()
            thread.join(10)


def readings(client: Client, sensor: str, measure: str, units: str | None = None) -> list[Any]:
    """Every stored reading of the series, oldest first."""
    return client.sensors.sensor_readings(
        measure, sensor, START - timedelta(days=3650), START + timedelta(days=3650), units
    )


def wait_until(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class RestartableBackend:
    """The real backend on a fixed port that a test can stop and start again."""

    def __init__(self, app: Any, port: int) -> None:
        self.app, self.port = app, port
        self.url = f"http://127.0.0.1:{port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        import uvicorn

        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_until(lambda: self._server.started, timeout=30)

    def stop(self) -> None:
        self._server.should_exit = True
        assert self._thread is not None
        self._thread.join(30)
