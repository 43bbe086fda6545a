"""Services the backend can call, their named parameter sets and the log of their runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, Index, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from dtbase.backend.db import Base, Timestamped, cascading
from dtbase.backend.enums import pg_enum
from dtbase.schemas.services import HttpMethod


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


class ServiceRunLog(Timestamped, Base):
    """One call of a service, failed ones included (status 502/504 and an error text)."""

    __tablename__ = "service_run_log"
    __table_args__ = (Index(None, "service_id", "timestamp"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(cascading("service.id"))
    # DTBase deletes a parameter set's runs with the set; kept for compatibility.
    parameter_set_id: Mapped[int | None] = mapped_column(cascading("service_parameter_set.id"))
    # A run without parameters stores JSON null, as DTBase does.
    parameters: Mapped[Any] = mapped_column(JSONB(none_as_null=False))
    response_status_code: Mapped[int]
    response_json: Mapped[Any | None] = mapped_column(JSONB(none_as_null=True))
    error: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
