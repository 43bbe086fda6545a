"""Webhook subscriptions and the log of their deliveries (migration 0016)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from dtbase.backend.db import Base, Timestamped, cascading


class EventSubscription(Timestamped, Base):
    """A URL that receives the events of a query, in order, from `last_event_id` on.

    Deliverers claim a row (`FOR UPDATE SKIP LOCKED`) while it is enabled, due
    (`next_attempt_at` passed) and behind the newest event; they advance `last_event_id`
    in the claim's transaction.
    """

    __tablename__ = "event_subscription"
    __table_args__ = (
        Index(
            "ix_event_subscription_due",
            "next_attempt_at",
            postgresql_where=text("enabled"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    # `EventQuery.model_dump(exclude_none=True)`.
    query: Mapped[dict[str, Any]] = mapped_column(JSONB)
    url: Mapped[str] = mapped_column(Text)
    # Kept as is: the deliverer needs it to sign (a hash would not do).
    secret: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    last_event_id: Mapped[int] = mapped_column(BigInteger)
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_failure_reason: Mapped[str | None] = mapped_column(Text)
    # Subscriptions outlive the admin who made them.
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", onupdate="CASCADE"), index=True
    )


class EventDelivery(Base):
    """One attempt to deliver one event to one subscription."""

    __tablename__ = "event_delivery"
    __table_args__ = (Index(None, "subscription_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    subscription_id: Mapped[int] = mapped_column(cascading("event_subscription.id"))
    # No foreign key: events are pruned after their retention, the log keeps its own.
    event_id: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[float] = mapped_column(Float)
