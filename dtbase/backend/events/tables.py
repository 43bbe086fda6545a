from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from dtbase.backend.db import Base

# The channel NOTIFY'd (empty payload) when events commit: "there may be events with an id
# greater than the last you read".
CHANNEL = "dtbase_events"


class Event(Base):
    """One change that was committed. Ids follow commit order (migration 0015's
    statement triggers), so `id > last_seen` is a complete cursor."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_time", "time"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    time: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    kind: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONB)
