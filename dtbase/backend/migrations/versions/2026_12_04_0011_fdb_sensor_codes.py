"""FDB sensor codes: a `channel` for each sensor link, so runs of several sensors made by
one call are separate field sets in the FDB.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fdb_sensor_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sensor", sa.Text(), nullable=False),
        sa.Column("measure", sa.String(length=100), nullable=False),
        sa.Column("units", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "channel BETWEEN 1 AND 65534", name=op.f("ck_fdb_sensor_code_channel_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fdb_sensor_code")),
        sa.UniqueConstraint("channel", name=op.f("uq_fdb_sensor_code_channel")),
        sa.UniqueConstraint(
            "sensor", "measure", "units", name=op.f("uq_fdb_sensor_code_sensor_measure_units")
        ),
    )


def downgrade() -> None:
    op.drop_table("fdb_sensor_code")
