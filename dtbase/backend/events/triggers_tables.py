"""Event triggers: which events start which service runs, and each trigger's progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from dtbase.backend.db import Base, Timestamped, cascading


class EventTrigger(Timestamped, Base):
    """A trigger. `last_event_id` is its cursor: every event up to it has been considered.

    The burst waiting to run is `pending` (a JSON object: one entry per distinct filled
    parameter set, see `triggers_burst`) with the times of its first and last events; it
    is empty, and the times null, when no burst waits.
    """

    __tablename__ = "event_trigger"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    # A trigger goes with its service.
    service_id: Mapped[int] = mapped_column(cascading("service.id"), index=True)
    query: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # A trigger blocks the deletion of its parameter set, as a schedule does.
    parameter_set_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_parameter_set.id", ondelete="RESTRICT", onupdate="CASCADE"),
        index=True,
    )
    # The parameters template (SQL NULL when none).
    parameters: Mapped[Any | None] = mapped_column(JSONB(none_as_null=True))
    debounce_seconds: Mapped[float] = mapped_column(Float)
    max_wait_seconds: Mapped[float] = mapped_column(Float)
    max_runs_per_hour: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    last_event_id: Mapped[int] = mapped_column(BigInteger)
    pending: Mapped[dict[str, Any]] = mapped_column(JSONB)
    burst_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    burst_last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Not a foreign key: the run log refers to its trigger, and a run may be deleted.
    last_run_id: Mapped[int | None] = mapped_column(Integer)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
