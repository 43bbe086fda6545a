"""Locations: identifiers, schemas, locations and their typed values.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 12:44:16.998283
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "location_identifier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("units", sa.String(length=100), nullable=True),
        sa.Column(
            "datatype",
            sa.Enum("string", "float", "integer", "boolean", name="value_datatype"),
            nullable=False,
        ),
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_identifier")),
        sa.UniqueConstraint(
            "name",
            "units",
            name=op.f("uq_location_identifier_name_units"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_table(
        "location_schema",
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_schema")),
        sa.UniqueConstraint("name", name=op.f("uq_location_schema_name")),
    )
    op.create_table(
        "location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schema_id", sa.Integer(), nullable=False),
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["schema_id"],
            ["location_schema.id"],
            name=op.f("fk_location_schema_id_location_schema"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location")),
    )
    op.create_index(op.f("ix_location_schema_id"), "location", ["schema_id"], unique=False)
    op.create_table(
        "location_schema_identifier_relation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schema_id", sa.Integer(), nullable=False),
        sa.Column("identifier_id", sa.Integer(), nullable=False),
        sa.Column(
            "time_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("time_updated", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["identifier_id"],
            ["location_identifier.id"],
            name=op.f("fk_location_schema_identifier_relation_identifier_id_location_identifier"),
        ),
        sa.ForeignKeyConstraint(
            ["schema_id"],
            ["location_schema.id"],
            name=op.f("fk_location_schema_identifier_relation_schema_id_location_schema"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_schema_identifier_relation")),
        sa.UniqueConstraint(
            "schema_id",
            "identifier_id",
            name=op.f("uq_location_schema_identifier_relation_schema_id_identifier_id"),
        ),
    )
    op.create_table(
        "location_value",
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("identifier_id", sa.Integer(), nullable=False),
        sa.Column("value_float", sa.Double(), nullable=True),
        sa.Column("value_integer", sa.BigInteger(), nullable=True),
        sa.Column("value_string", sa.Text(), nullable=True),
        sa.Column("value_boolean", sa.Boolean(), nullable=True),
        sa.CheckConstraint(
            "num_nonnulls(value_float, value_integer, value_string, value_boolean) = 1",
            name=op.f("ck_location_value_one_value"),
        ),
        sa.ForeignKeyConstraint(
            ["identifier_id"],
            ["location_identifier.id"],
            name=op.f("fk_location_value_identifier_id_location_identifier"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["location.id"],
            name=op.f("fk_location_value_location_id_location"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("location_id", "identifier_id", name=op.f("pk_location_value")),
    )


def downgrade() -> None:
    op.drop_table("location_value")
    op.drop_table("location_schema_identifier_relation")
    op.drop_index(op.f("ix_location_schema_id"), table_name="location")
    op.drop_table("location")
    op.drop_table("location_schema")
    op.drop_table("location_identifier")
    sa.Enum(name="value_datatype").drop(op.get_bind())
