"""The MQTT panel of a sensor's page: where its device publishes, how, and what the
bridge last saw of it (reported to the backend, see dtbase.mqtt.bridge)."""

from __future__ import annotations

import functools
import json
import shlex
from dataclasses import dataclass

from dtbase.client import Client
from dtbase.mqtt.config import Broker, MqttSettings
from dtbase.schemas.mqtt import SensorActivity
from dtbase.schemas.sensors import SensorMeasure


@dataclass(frozen=True)
class MqttPanel:
    topic: str
    errors_topic: str
    command: str
    senml: str
    activity: SensorActivity


@functools.cache
def _settings() -> MqttSettings:
    return MqttSettings()


def panel(client: Client, unique_identifier: str, type_name: str) -> MqttPanel:
    """The panel of a sensor of type `type_name` (its first measure makes the example)."""
    settings = _settings()
    measures = [
        m for t in client.sensors.list_sensor_types() if t.name == type_name for m in t.measures
    ]
    broker = Broker.from_url(settings.mqtt_url) if settings.mqtt_url else None
    host = broker.host if broker else settings.mqtt_host
    port = broker.port if broker else settings.mqtt_port
    topic = settings.readings_topic(unique_identifier)
    example = [_senml_record(measures[0] if measures else None)]
    senml = json.dumps(example)
    command = shlex.join(
        [
            "mosquitto_pub",
            *("-h", host, "-p", str(port), "-q", "1"),
            *("-u", unique_identifier, "-P", "<password>", "-t", topic, "-m", senml),
        ]
    )
    return MqttPanel(
        topic=topic,
        errors_topic=settings.errors_topic(unique_identifier),
        command=command,
        senml=json.dumps(example, indent=1),
        activity=client.mqtt.sensor_activity(unique_identifier),
    )


def _senml_record(measure: SensorMeasure | None) -> dict[str, object]:
    if measure is None:
        return {"n": "<measure>", "v": 21.5}
    value = {"float": 21.5, "integer": 3, "boolean": True, "string": "ok"}[measure.datatype]
    key = {"boolean": "vb", "string": "vs"}.get(measure.datatype, "v")
    record: dict[str, object] = {"n": measure.name, key: value}
    if measure.units:
        record["u"] = measure.units
    return record
