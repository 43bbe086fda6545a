"""Where the broker is and how the bridge batches: `DT_MQTT_*` settings.

Without `DT_MQTT_URL` the broker is the local Mosquitto that `dtbase up` (or
`dtbase mqtt broker`) runs, with its files under `<DT_DATA_DIR>/mosquitto`; the bridge's
account there is generated once and kept beside them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator

from dtbase.core.settings import DtSettings

BRIDGE_USER = "dtbase-bridge"


class MqttSettings(DtSettings):
    # Any other broker: mqtt://user:password@host:1883 or mqtts://... (TLS).
    mqtt_url: str | None = None
    # The local Mosquitto's listener.
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    # Topics are <prefix>/<sensor unique identifier>/readings and .../errors.
    mqtt_topic_prefix: str = "dtbase"
    # The bridge's MQTT client id: its persistent session at the broker is kept under it.
    mqtt_client_id: str = "dtbase-bridge"
    # A batch is written when it holds this many readings or its first is this old.
    mqtt_batch_readings: int = Field(default=5000, ge=1, le=100_000)
    mqtt_batch_milliseconds: int = Field(default=200, ge=1, le=60_000)
    # Where the backend is, and the default user's password the bridge logs in with.
    backend_url: str = "http://localhost:5000"
    default_user_pass: SecretStr | None = None

    @field_validator("mqtt_topic_prefix")
    @classmethod
    def _one_plain_topic_level(cls, prefix: str) -> str:
        if not prefix or any(c in prefix for c in "+#/\x00"):
            raise ValueError("DT_MQTT_TOPIC_PREFIX must be one topic level, without + # or /")
        return prefix

    @property
    def broker_dir(self) -> Path:
        return (self.data_dir / "mosquitto").resolve()

    @property
    def status_file(self) -> Path:
        """Where the bridge writes its counters (read by `dtbase mqtt status`)."""
        return self.broker_dir / "bridge-status.json"

    def readings_topic(self, sensor: str) -> str:
        return f"{self.mqtt_topic_prefix}/{sensor}/readings"

    def errors_topic(self, sensor: str) -> str:
        return f"{self.mqtt_topic_prefix}/{sensor}/errors"

    def broker(self) -> Broker:
        """The broker the bridge connects to, with the bridge's credentials."""
        if self.mqtt_url:
            return Broker.from_url(self.mqtt_url)
        return Broker(
            host=self.mqtt_host,
            port=self.mqtt_port,
            username=BRIDGE_USER,
            password=kept_secret(self.broker_dir / "bridge_password"),
        )


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> Broker:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"DT_MQTT_URL {url!r}: give mqtt://host:port or mqtts://host:port")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def kept_secret(path: Path) -> str:
    """A password generated once and kept in `path`, readable only by us."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value
