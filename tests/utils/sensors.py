"""Sensors set up over the API, and timestamps written as the API writes them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx


def add_sensors(
    admin: httpx.Client, type_name: str, measures: Sequence[Any], uids: Sequence[str]
) -> httpx.Client:
    """A sensor type with these measures, and one sensor of it per unique identifier."""
    body = {"name": type_name, "measures": measures}
    assert admin.post("/sensor/insert-sensor-type", json=body).status_code == 201
    for uid in uids:
        body = {"type_name": type_name, "unique_identifier": uid}
        assert admin.post("/sensor/insert-sensor", json=body).status_code == 201
    return admin


def iso(stamp: datetime) -> str:
    """A timestamp as the API writes it (UTC, `Z`)."""
    return stamp.isoformat().replace("+00:00", "Z")
