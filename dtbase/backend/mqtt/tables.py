from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from dtbase.backend.db import Base, Timestamped, cascading


class MqttSensorActivity(Timestamped, Base):
    """A sensor's MQTT traffic as the bridge reported it: one row per sensor that got a
    message, gone with the sensor."""

    __tablename__ = "mqtt_sensor_activity"

    sensor_id: Mapped[int] = mapped_column(cascading("sensor.id"), primary_key=True)
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    messages: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    # The newest errors first, at most RECENT_ERRORS: {"cause", "reason", "received_at"}.
    recent_errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
