"""Event triggers (service runs started by events), and the run log's note of the trigger
and events that started a run.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
# The lead re-chains this after 0016 (webhook subscriptions) at merge.
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_trigger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("query", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("parameter_set_id", sa.Integer(), nullable=True),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("debounce_seconds", sa.Float(), nullable=False),
        sa.Column("max_wait_seconds", sa.Float(), nullable=False),
        sa.Column("max_runs_per_hour", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("pending", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("burst_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("burst_last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["parameter_set_id"],
            ["service_parameter_set.id"],
            name=op.f("fk_event_trigger_parameter_set_id_service_parameter_set"),
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service.id"],
            name=op.f("fk_event_trigger_service_id_service"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_trigger")),
        sa.UniqueConstraint("name", name=op.f("uq_event_trigger_name")),
    )
    op.create_index(
        op.f("ix_event_trigger_parameter_set_id"), "event_trigger", ["parameter_set_id"]
    )
    op.create_index(op.f("ix_event_trigger_service_id"), "event_trigger", ["service_id"])
    op.add_column("service_run_log", sa.Column("trigger_id", sa.Integer(), nullable=True))
    op.add_column(
        "service_run_log",
        sa.Column("trigger_event_ids", postgresql.ARRAY(sa.BigInteger()), nullable=True),
    )
    op.create_foreign_key(
        op.f("fk_service_run_log_trigger_id_event_trigger"),
        "service_run_log",
        "event_trigger",
        ["trigger_id"],
        ["id"],
        onupdate="CASCADE",
        ondelete="SET NULL",
    )
    op.create_index(
        op.f("ix_service_run_log_trigger_id"), "service_run_log", ["trigger_id", "timestamp"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_service_run_log_trigger_id"), table_name="service_run_log")
    op.drop_constraint(
        op.f("fk_service_run_log_trigger_id_event_trigger"), "service_run_log", type_="foreignkey"
    )
    op.drop_column("service_run_log", "trigger_event_ids")
    op.drop_column("service_run_log", "trigger_id")
    op.drop_index(op.f("ix_event_trigger_service_id"), table_name="event_trigger")
    op.drop_index(op.f("ix_event_trigger_parameter_set_id"), table_name="event_trigger")
    op.drop_table("event_trigger")
