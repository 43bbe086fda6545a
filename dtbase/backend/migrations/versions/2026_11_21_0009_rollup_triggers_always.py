"""Rollup triggers fire in replica mode too: bulk ingest checks foreign keys once per
request and writes in replica mode (dtbase.backend.timeseries.foreign_keys), and its rows
must still mark their ranges dirty.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGERS = [f"sensor_reading_rollup_{name}" for name in ("insert", "update", "delete")]


def upgrade() -> None:
    for trigger in TRIGGERS:
        op.execute(f"ALTER TABLE sensor_reading ENABLE ALWAYS TRIGGER {trigger}")


def downgrade() -> None:
    for trigger in TRIGGERS:
        op.execute(f"ALTER TABLE sensor_reading ENABLE TRIGGER {trigger}")
