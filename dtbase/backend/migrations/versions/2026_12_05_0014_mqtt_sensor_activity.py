"""The MQTT bridge's report of each sensor's traffic (last message, errors).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mqtt_sensor_activity",
        sa.Column("sensor_id", sa.Integer(), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("recent_errors", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["sensor_id"],
            ["sensor.id"],
            name=op.f("fk_mqtt_sensor_activity_sensor_id_sensor"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sensor_id", name=op.f("pk_mqtt_sensor_activity")),
    )


def downgrade() -> None:
    op.drop_table("mqtt_sensor_activity")
