"""Services the backend can call, their parameter sets, schedules and the log of their runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from dtbase.backend.db import Base, Timestamped, cascading
from dtbase.backend.enums import pg_enum
from dtbase.schemas.services import HttpMethod, RunStatus


class Service(Timestamped, Base):
    __tablename__ = "service"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    url: Mapped[str] = mapped_column(Text)
    http_method: Mapped[HttpMethod] = mapped_column(pg_enum(HttpMethod, "http_method"))


class ServiceParameterSet(Timestamped, Base):
    __tablename__ = "service_parameter_set"
    __table_args__ = (UniqueConstraint("service_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    service_id: Mapped[int] = mapped_column(cascading("service.id"))
    parameters: Mapped[Any] = mapped_column(JSONB(none_as_null=False))


class ServiceSchedule(Timestamped, Base):
    """When the scheduler calls a service: a cron expression or an interval, never both.

    `next_run_at` is the next due time (kept while disabled, so an interval keeps its
    phase); the scheduler claims rows with `next_run_at <= now` and advances it.
    """

    __tablename__ = "service_schedule"
    __table_args__ = (
        UniqueConstraint("service_id", "name"),
        CheckConstraint("num_nonnulls(cron, interval_seconds) = 1", name="cron_or_interval"),
        Index(None, "next_run_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    service_id: Mapped[int] = mapped_column(cascading("service.id"))
    cron: Mapped[str | None] = mapped_column(Text)
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    time_zone: Mapped[str] = mapped_column(Text)
    # A schedule blocks the deletion of its parameter set (a 409 naming it).
    parameter_set_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_parameter_set.id", ondelete="RESTRICT", onupdate="CASCADE"),
        index=True,
    )
    # Explicit parameters (SQL NULL when none): sent instead of the set's.
    parameters: Mapped[Any | None] = mapped_column(JSONB(none_as_null=True))
    enabled: Mapped[bool] = mapped_column(Boolean)
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ServiceRunLog(Timestamped, Base):
    """One call of a service, failed ones included (status 502/504 and an error text).

    A run started with `"wait": false` or by a schedule is logged as `pending` (no status
    code yet) before the call and completed when the service answers.
    """

    __tablename__ = "service_run_log"
    # (trigger_id, timestamp): the loop guard counts a trigger's runs of the last hour.
    __table_args__ = (
        Index(None, "service_id", "timestamp"),
        Index(None, "trigger_id", "timestamp"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(cascading("service.id"))
    # DTBase deletes a parameter set's runs with the set; kept for compatibility.
    parameter_set_id: Mapped[int | None] = mapped_column(cascading("service_parameter_set.id"))
    # A run without parameters stores JSON null, as DTBase does.
    parameters: Mapped[Any] = mapped_column(JSONB(none_as_null=False))
    response_status_code: Mapped[int | None]
    response_json: Mapped[Any | None] = mapped_column(JSONB(none_as_null=True))
    error: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[RunStatus] = mapped_column(pg_enum(RunStatus, "service_run_status"))
    # The schedule that started the run; runs outlive their schedule.
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_schedule.id", ondelete="SET NULL", onupdate="CASCADE"), index=True
    )
    # The event trigger that started the run, and the events of its burst (the first
    # hundred ids; see dtbase.backend.events.triggers_burst).
    trigger_id: Mapped[int | None] = mapped_column(
        ForeignKey("event_trigger.id", ondelete="SET NULL", onupdate="CASCADE")
    )
    trigger_event_ids: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))
