"""What `dtbase up` starts for MQTT, and what it says when it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from dtbase.devdb import free_port
from dtbase.mqtt import platform
from dtbase.mqtt.broker import INSTALL_HINT


@pytest.fixture(autouse=True)
def data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DT_MQTT_PORT", str(free_port()))
    monkeypatch.delenv("DT_MQTT_URL", raising=False)


def test_without_mosquitto_up_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    ingress = platform.start("http://127.0.0.1:1", "password")
    assert ingress.line == f"not started: {INSTALL_HINT}"
    assert ingress.broker is None
    assert ingress.bridge is None


def test_a_wrong_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DT_MQTT_URL", "https://broker.example.org")
    ingress = platform.start("http://127.0.0.1:1", "password")
    assert ingress.line.startswith("not started: DT_MQTT_URL 'https://broker.example.org'")


def test_another_broker_starts_no_mosquitto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DT_MQTT_URL", "mqtts://bridge:secret@broker.example.org")
    ingress = platform.start("http://127.0.0.1:1", None)
    assert ingress.line == (
        "mqtts://broker.example.org:8883   (DT_MQTT_URL); no bridge: the default user is disabled"
    )
    assert ingress.broker is None


def test_the_local_broker_starts_and_stops() -> None:
    ingress = platform.start("http://127.0.0.1:1", None)
    try:
        assert ingress.broker is not None
        assert ingress.broker.running()
        assert ingress.line.startswith(ingress.broker.url)
    finally:
        ingress.stop()
    assert not ingress.broker.running()
