"""Sensors: measures, types, sensors, readings and location history.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 12:44:17.155679
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sensor_measure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("units", sa.String(length=100), nullable=True),
        sa.Column(
            "datatype", postgresql.ENUM(name="value_datatype", create_type=False), nullable=False
        ),
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_measure")),
        sa.UniqueConstraint(
            "name",
            "units",
            name=op.f("uq_sensor_measure_name_units"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_table(
        "sensor_type",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_type")),
        sa.UniqueConstraint("name", name=op.f("uq_sensor_type_name")),
    )
    op.create_table(
        "sensor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("unique_identifier", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["type_id"], ["sensor_type.id"], name=op.f("fk_sensor_type_id_sensor_type")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor")),
        sa.UniqueConstraint("unique_identifier", name=op.f("uq_sensor_unique_identifier")),
    )
    op.create_index(op.f("ix_sensor_type_id"), "sensor", ["type_id"], unique=False)
    op.create_table(
        "sensor_type_measure_relation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["sensor_measure.id"],
            name=op.f("fk_sensor_type_measure_relation_measure_id_sensor_measure"),
        ),
        sa.ForeignKeyConstraint(
            ["type_id"],
            ["sensor_type.id"],
            name=op.f("fk_sensor_type_measure_relation_type_id_sensor_type"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_type_measure_relation")),
        sa.UniqueConstraint(
            "type_id", "measure_id", name=op.f("uq_sensor_type_measure_relation_type_id_measure_id")
        ),
    )
    op.create_table(
        "sensor_location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sensor_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("installation_datetime", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_sensor_location_location_id_location")
        ),
        sa.ForeignKeyConstraint(
            ["sensor_id"],
            ["sensor.id"],
            name=op.f("fk_sensor_location_sensor_id_sensor"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_location")),
        sa.UniqueConstraint(
            "sensor_id",
            "installation_datetime",
            name=op.f("uq_sensor_location_sensor_id_installation_datetime"),
        ),
    )
    op.create_index(
        op.f("ix_sensor_location_location_id"), "sensor_location", ["location_id"], unique=False
    )
    op.create_table(
        "sensor_reading",
        sa.Column("sensor_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value_float", sa.Double(), nullable=True),
        sa.Column("value_integer", sa.BigInteger(), nullable=True),
        sa.Column("value_string", sa.Text(), nullable=True),
        sa.Column("value_boolean", sa.Boolean(), nullable=True),
        sa.CheckConstraint(
            "num_nonnulls(value_float, value_integer, value_string, value_boolean) = 1",
            name=op.f("ck_sensor_reading_one_value"),
        ),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["sensor_measure.id"],
            name=op.f("fk_sensor_reading_measure_id_sensor_measure"),
        ),
        sa.ForeignKeyConstraint(
            ["sensor_id"],
            ["sensor.id"],
            name=op.f("fk_sensor_reading_sensor_id_sensor"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "sensor_id", "measure_id", "timestamp", name=op.f("pk_sensor_reading")
        ),
    )


def downgrade() -> None:
    op.drop_table("sensor_reading")
    op.drop_index(op.f("ix_sensor_location_location_id"), table_name="sensor_location")
    op.drop_table("sensor_location")
    op.drop_table("sensor_type_measure_relation")
    op.drop_index(op.f("ix_sensor_type_id"), table_name="sensor")
    op.drop_table("sensor")
    op.drop_table("sensor_type")
    op.drop_table("sensor_measure")
