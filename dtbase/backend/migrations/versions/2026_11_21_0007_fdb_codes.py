"""FDB codes: the registry of GRIB codes (expver, member, paramId) for the FDB bridge.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "fdb_model_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("expver", sa.String(length=4), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "expver ~ '^[a-z0-9]{4}$'", name=op.f("ck_fdb_model_code_expver_format")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fdb_model_code")),
        sa.UniqueConstraint("expver", name=op.f("uq_fdb_model_code_expver")),
        sa.UniqueConstraint("model", name=op.f("uq_fdb_model_code_model")),
    )
    op.create_table(
        "fdb_scenario_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_code_id", sa.Integer(), nullable=False),
        sa.Column("scenario", sa.Text(), nullable=False),
        sa.Column("member", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "member BETWEEN 1 AND 255", name=op.f("ck_fdb_scenario_code_member_range")
        ),
        sa.ForeignKeyConstraint(
            ["model_code_id"],
            ["fdb_model_code.id"],
            name=op.f("fk_fdb_scenario_code_model_code_id_fdb_model_code"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fdb_scenario_code")),
        sa.UniqueConstraint(
            "model_code_id", "member", name=op.f("uq_fdb_scenario_code_model_code_id_member")
        ),
        sa.UniqueConstraint(
            "model_code_id", "scenario", name=op.f("uq_fdb_scenario_code_model_code_id_scenario")
        ),
    )
    op.create_table(
        "fdb_measure_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("units", sa.String(length=100), nullable=False),
        sa.Column("param", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("param > 0", name=op.f("ck_fdb_measure_code_param_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fdb_measure_code")),
        sa.UniqueConstraint("name", "units", name=op.f("uq_fdb_measure_code_name_units")),
        sa.UniqueConstraint("param", name=op.f("uq_fdb_measure_code_param")),
    )


def downgrade() -> None:
    op.drop_table("fdb_measure_code")
    op.drop_table("fdb_scenario_code")
    op.drop_table("fdb_model_code")
