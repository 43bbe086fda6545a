"""A real Mosquitto per test (started by `dtbase.mqtt.broker`, files in a temporary data
directory), beside the session's real backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dtbase.devdb import free_port
from dtbase.mqtt.broker import LocalBroker
from dtbase.mqtt.config import MqttSettings


@pytest.fixture
def mqtt_settings(tmp_path: Path, request: pytest.FixtureRequest) -> MqttSettings:
    return MqttSettings(
        data_dir=tmp_path,
        mqtt_port=free_port(),
        mqtt_batch_milliseconds=50,
        # A session of its own: one test's unacknowledged messages stay out of the next.
        mqtt_client_id=f"bridge-{request.node.name}"[:60],
    )


@pytest.fixture
def broker(mqtt_settings: MqttSettings) -> Iterator[LocalBroker]:
    local = LocalBroker(mqtt_settings).start()
    yield local
    local.stop()
