"""Service schedules; run log status, schedule and pending runs.

Adds `service_schedule` (cron or interval, time zone, parameter set or parameters, next
and last run), and to `service_run_log` a `status` (pending, succeeded, failed; existing
runs are classified by their answer), the `schedule_id` that started a run, and a null
status code while a run is pending.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUN_STATUS = postgresql.ENUM(
    "pending", "succeeded", "failed", name="service_run_status", create_type=False
)


def upgrade() -> None:
    op.create_table(
        "service_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("cron", sa.Text(), nullable=True),
        sa.Column("interval_seconds", sa.Integer(), nullable=True),
        sa.Column("time_zone", sa.Text(), nullable=False),
        sa.Column("parameter_set_id", sa.Integer(), nullable=True),
        sa.Column(
            "parameters",
            postgresql.JSONB(none_as_null=True, astext_type=sa.Text()),
            nullable=True,
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "num_nonnulls(cron, interval_seconds) = 1",
            name=op.f("ck_service_schedule_cron_or_interval"),
        ),
        sa.ForeignKeyConstraint(
            ["parameter_set_id"],
            ["service_parameter_set.id"],
            name=op.f("fk_service_schedule_parameter_set_id_service_parameter_set"),
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service.id"],
            name=op.f("fk_service_schedule_service_id_service"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_schedule")),
        sa.UniqueConstraint("service_id", "name", name=op.f("uq_service_schedule_service_id_name")),
    )
    op.create_index(
        op.f("ix_service_schedule_next_run_at"), "service_schedule", ["next_run_at"], unique=False
    )
    op.create_index(
        op.f("ix_service_schedule_parameter_set_id"),
        "service_schedule",
        ["parameter_set_id"],
        unique=False,
    )

    RUN_STATUS.create(op.get_bind())
    op.add_column("service_run_log", sa.Column("status", RUN_STATUS, nullable=True))
    op.execute(
        "UPDATE service_run_log SET status = CASE WHEN error IS NULL"
        " AND response_status_code BETWEEN 200 AND 399"
        " THEN 'succeeded' ELSE 'failed' END::service_run_status"
    )
    op.alter_column("service_run_log", "status", nullable=False)
    op.add_column("service_run_log", sa.Column("schedule_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_service_run_log_schedule_id_service_schedule"),
        "service_run_log",
        "service_schedule",
        ["schedule_id"],
        ["id"],
        onupdate="CASCADE",
        ondelete="SET NULL",
    )
    op.create_index(
        op.f("ix_service_run_log_schedule_id"), "service_run_log", ["schedule_id"], unique=False
    )
    op.alter_column(
        "service_run_log", "response_status_code", existing_type=sa.Integer(), nullable=True
    )


def downgrade() -> None:
    # Runs still pending have no status code: they are dropped with the feature.
    op.execute("DELETE FROM service_run_log WHERE response_status_code IS NULL")
    op.alter_column(
        "service_run_log", "response_status_code", existing_type=sa.Integer(), nullable=False
    )
    op.drop_index(op.f("ix_service_run_log_schedule_id"), table_name="service_run_log")
    op.drop_constraint(
        op.f("fk_service_run_log_schedule_id_service_schedule"),
        "service_run_log",
        type_="foreignkey",
    )
    op.drop_column("service_run_log", "schedule_id")
    op.drop_column("service_run_log", "status")
    RUN_STATUS.drop(op.get_bind())
    op.drop_index(op.f("ix_service_schedule_parameter_set_id"), table_name="service_schedule")
    op.drop_index(op.f("ix_service_schedule_next_run_at"), table_name="service_schedule")
    op.drop_table("service_schedule")
