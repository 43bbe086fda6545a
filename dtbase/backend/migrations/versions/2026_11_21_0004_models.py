"""Models: models, scenarios, measures, runs, products and values.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 12:44:24.488384
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model")),
        sa.UniqueConstraint("name", name=op.f("uq_model_name")),
    )
    op.create_table(
        "model_measure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("units", sa.String(length=100), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_measure")),
        sa.UniqueConstraint("name", "units", name=op.f("uq_model_measure_name_units")),
    )
    op.create_table(
        "model_scenario",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["model.id"],
            name=op.f("fk_model_scenario_model_id_model"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_scenario")),
        sa.UniqueConstraint(
            "model_id",
            "description",
            name=op.f("uq_model_scenario_model_id_description"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_table(
        "model_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=True),
        sa.Column("sensor_id", sa.Integer(), nullable=True),
        sa.Column("sensor_measure_id", sa.Integer(), nullable=True),
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"], ["model.id"], name=op.f("fk_model_run_model_id_model")
        ),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["model_scenario.id"],
            name=op.f("fk_model_run_scenario_id_model_scenario"),
        ),
        sa.ForeignKeyConstraint(
            ["sensor_id"], ["sensor.id"], name=op.f("fk_model_run_sensor_id_sensor")
        ),
        sa.ForeignKeyConstraint(
            ["sensor_measure_id"],
            ["sensor_measure.id"],
            name=op.f("fk_model_run_sensor_measure_id_sensor_measure"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_run")),
        sa.UniqueConstraint(
            "model_id",
            "scenario_id",
            "time_created",
            name=op.f("uq_model_run_model_id_scenario_id_time_created"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(op.f("ix_model_run_sensor_id"), "model_run", ["sensor_id"], unique=False)
    op.create_index(op.f("ix_model_run_time_created"), "model_run", ["time_created"], unique=False)
    op.create_table(
        "model_product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
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
            ["model_measure.id"],
            name=op.f("fk_model_product_measure_id_model_measure"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["model_run.id"],
            name=op.f("fk_model_product_run_id_model_run"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_product")),
        sa.UniqueConstraint(
            "run_id", "measure_id", name=op.f("uq_model_product_run_id_measure_id")
        ),
    )
    op.create_index(
        op.f("ix_model_product_measure_id"), "model_product", ["measure_id"], unique=False
    )
    op.create_table(
        "model_value",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value_float", sa.Double(), nullable=True),
        sa.Column("value_integer", sa.BigInteger(), nullable=True),
        sa.Column("value_string", sa.Text(), nullable=True),
        sa.Column("value_boolean", sa.Boolean(), nullable=True),
        sa.CheckConstraint(
            "num_nonnulls(value_float, value_integer, value_string, value_boolean) = 1",
            name=op.f("ck_model_value_one_value"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["model_product.id"],
            name=op.f("fk_model_value_product_id_model_product"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", "timestamp", name=op.f("pk_model_value")),
    )


def downgrade() -> None:
    op.drop_table("model_value")
    op.drop_index(op.f("ix_model_product_measure_id"), table_name="model_product")
    op.drop_table("model_product")
    op.drop_index(op.f("ix_model_run_time_created"), table_name="model_run")
    op.drop_index(op.f("ix_model_run_sensor_id"), table_name="model_run")
    op.drop_table("model_run")
    op.drop_table("model_scenario")
    op.drop_table("model_measure")
    op.drop_table("model")
