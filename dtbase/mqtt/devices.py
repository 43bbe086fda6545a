"""Device credentials at the local broker: one account per sensor, named after it, which
the ACL lets publish that sensor's readings only (see `dtbase.mqtt.broker`)."""

from __future__ import annotations

import secrets

from dtbase.mqtt.broker import LocalBroker, accounts, remove_account, set_password
from dtbase.mqtt.config import BRIDGE_USER


class DeviceError(ValueError):
    pass


def add(broker: LocalBroker, sensor: str) -> str:
    """New credentials for the sensor's device; returns the password (shown once)."""
    if not sensor or any(c in sensor for c in "+#/:\x00") or sensor == BRIDGE_USER:
        raise DeviceError(
            f"{sensor!r} cannot be an MQTT topic level or account: a sensor published to "
            "over MQTT needs an identifier without + # / or :"
        )
    if sensor in devices(broker):
        raise DeviceError(f"Sensor {sensor!r} has credentials already (remove them first)")
    broker.prepare()
    password = secrets.token_urlsafe(18)
    set_password(broker.passwords, sensor, password)
    broker.reload()
    return password


def devices(broker: LocalBroker) -> list[str]:
    return sorted(a for a in accounts(broker.passwords) if a != BRIDGE_USER)


def remove(broker: LocalBroker, sensor: str) -> None:
    if sensor not in devices(broker):
        raise DeviceError(f"Sensor {sensor!r} has no MQTT credentials")
    remove_account(broker.passwords, sensor)
    broker.reload()
