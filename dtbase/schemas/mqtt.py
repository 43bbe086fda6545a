"""The /mqtt endpoints (additive): the bridge reports each sensor's MQTT traffic; the
sensor page reads it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from dtbase.schemas.common import BoundedName

# Errors kept per sensor, newest first.
RECENT_ERRORS = 10


class MqttError(BaseModel):
    cause: str = Field(max_length=50)
    reason: str = Field(max_length=2000)
    received_at: datetime


class SensorTraffic(BaseModel):
    """What the bridge saw of one sensor since its last report."""

    unique_identifier: BoundedName
    last_message_at: datetime | None = None
    messages: int = Field(default=0, ge=0)
    errors: int = Field(default=0, ge=0)
    recent_errors: list[MqttError] = Field(default_factory=list, max_length=RECENT_ERRORS)


class InsertActivityRequest(BaseModel):
    sensors: list[SensorTraffic] = Field(max_length=10_000)


class InsertActivityAnswer(BaseModel):
    detail: str
    unknown_sensors: list[str] = Field(
        description="Sensors of the report that do not exist (deleted meanwhile): not recorded."
    )


class SensorActivity(BaseModel):
    """A sensor's MQTT traffic so far (all zero and empty before its first message)."""

    unique_identifier: str
    last_message_at: datetime | None
    messages: int
    errors: int
    recent_errors: list[MqttError]
