"""MQTT ingress as `dtbase up` runs it: the local Mosquitto (or the broker DT_MQTT_URL
names) and the bridge in a thread, logged in as the default user once the backend answers.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import httpx

from dtbase.client import ApiError, Client
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.mqtt.bridge import Bridge
from dtbase.mqtt.broker import INSTALL_HINT, BrokerError, LocalBroker, installed
from dtbase.mqtt.config import MqttSettings

log = logging.getLogger(__name__)


@dataclass
class Ingress:
    """What `up` started, and the line it prints about it."""

    line: str
    broker: LocalBroker | None = None
    bridge: BridgeThread | None = None

    def stop(self) -> None:
        if self.bridge is not None:
            self.bridge.stop()
        if self.broker is not None:
            self.broker.stop()


def start(backend_url: str, password: str | None) -> Ingress:
    try:
        settings = MqttSettings()
        external = settings.broker() if settings.mqtt_url else None
    except ValueError as error:  # a DT_MQTT_* setting that is wrong: say which
        return Ingress(f"not started: {error}")
    broker: LocalBroker | None = None
    if external is not None:
        where = f"{external.url}   (DT_MQTT_URL)"
    elif not installed():
        return Ingress(f"not started: {INSTALL_HINT}")
    else:
        try:
            broker = LocalBroker(settings).start()
        except BrokerError as error:
            return Ingress(f"not started: {error}")
        where = f"{broker.url}   (Mosquitto; devices: dtbase mqtt device add SENSOR)"
    if password is None:
        return Ingress(f"{where}; no bridge: the default user is disabled", broker)
    bridge = BridgeThread(settings, backend_url, password)
    bridge.start()
    return Ingress(where, broker, bridge)


class BridgeThread(threading.Thread):
    """The bridge, once the backend answers a login (within a minute)."""

    def __init__(self, settings: MqttSettings, backend_url: str, password: str) -> None:
        super().__init__(daemon=True, name="mqtt-bridge")
        self.settings, self.backend_url, self.password = settings, backend_url, password
        self._stopped = threading.Event()
        self._bridge: Bridge | None = None

    def run(self) -> None:
        deadline = time.monotonic() + 60
        while not self._stopped.is_set():
            try:
                client = Client.logged_in(self.backend_url, DEFAULT_USER_EMAIL, self.password)
                break
            except (httpx.TransportError, ApiError):
                if time.monotonic() > deadline:
                    log.error("The MQTT bridge could not log in to %s", self.backend_url)
                    return
                time.sleep(0.2)
        else:
            return
        with client:
            self._bridge = Bridge(self.settings, client)
            if not self._stopped.is_set():
                self._bridge.run()

    def stop(self) -> None:
        self._stopped.set()
        if self._bridge is not None:
            self._bridge.stop()
