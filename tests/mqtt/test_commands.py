"""`dtbase mqtt device add/list/remove` and `status`, against the real backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dtbase.cli import app
from dtbase.client import Client
from tests.mqtt.helpers import PASSWORD, add_sensors


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, live_backend: str) -> CliRunner:
    monkeypatch.setenv("DT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DT_BACKEND_URL", live_backend)
    monkeypatch.setenv("DT_DEFAULT_USER_PASS", PASSWORD)
    monkeypatch.delenv("DT_MQTT_URL", raising=False)
    return CliRunner()


def test_device_add_list_remove(cli: CliRunner, client: Client) -> None:
    add_sensors(client, "S1")

    added = cli.invoke(app, ["mqtt", "device", "add", "S1"])
    assert added.exit_code == 0, added.output
    assert "mosquitto_pub" in added.output
    assert "-t 'dtbase/S1/readings'" in added.output
    assert cli.invoke(app, ["mqtt", "device", "list"]).output.split() == ["S1"]

    again = cli.invoke(app, ["mqtt", "device", "add", "S1"])
    assert again.exit_code == 1
    assert "has credentials already" in again.output

    assert cli.invoke(app, ["mqtt", "device", "remove", "S1"]).exit_code == 0
    assert cli.invoke(app, ["mqtt", "device", "list"]).output.strip() == "No devices."
    gone = cli.invoke(app, ["mqtt", "device", "remove", "S1"])
    assert gone.exit_code == 1
    assert "has no MQTT credentials" in gone.output


def test_device_add_for_an_unknown_sensor_fails(cli: CliRunner, client: Client) -> None:
    result = cli.invoke(app, ["mqtt", "device", "add", "nope"])
    assert result.exit_code == 1
    assert "Sensor 'nope'" in result.output
    assert cli.invoke(app, ["mqtt", "device", "list"]).output.strip() == "No devices."


def test_device_add_refuses_a_name_no_topic_can_hold(cli: CliRunner, client: Client) -> None:
    add_sensors(client, "a/b")
    result = cli.invoke(app, ["mqtt", "device", "add", "a/b"])
    assert result.exit_code == 1
    assert "cannot be an MQTT topic level" in result.output


def test_devices_are_managed_only_at_the_local_broker(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DT_MQTT_URL", "mqtt://broker.example.org")
    result = cli.invoke(app, ["mqtt", "device", "add", "S1"])
    assert result.exit_code == 1
    assert "DT_MQTT_URL" in result.output


def test_status_without_a_bridge_says_so(cli: CliRunner) -> None:
    result = cli.invoke(app, ["mqtt", "status"])
    assert result.exit_code == 1
    assert "No bridge has run here" in result.output


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DT_MQTT_URL", "http://broker.example.org", "give mqtt://host:port"),
        ("DT_MQTT_TOPIC_PREFIX", "a/b", "DT_MQTT_TOPIC_PREFIX must be one topic level"),
    ],
)
def test_a_wrong_setting_is_named(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = cli.invoke(app, ["mqtt", "bridge"])
    assert result.exit_code == 1
    assert message in result.output
