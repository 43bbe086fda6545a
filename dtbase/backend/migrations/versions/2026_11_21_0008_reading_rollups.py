"""Reading rollups: per-bucket aggregates of sensor readings, and the dirty ranges that
statement-level triggers on sensor_reading record (design: dtbase.backend.sensors.rollups).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One dirty range per (sensor, measure, day touched) and statement: a handful of rows per
# request, whatever its size, and a range never longer than a day to recompute. Rows of a
# sensor that is going away (an ON DELETE CASCADE from sensor) mark nothing: its rollups go
# with it.
MARK_DIRTY = """
CREATE FUNCTION sensor_reading_mark_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO sensor_reading_dirty (sensor_id, measure_id, lo, hi)
        SELECT sensor_id, measure_id, min("timestamp"), max("timestamp") FROM new_rows
        GROUP BY sensor_id, measure_id,
            date_bin('86400 seconds', "timestamp", '1970-01-01 00:00:00+00');
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO sensor_reading_dirty (sensor_id, measure_id, lo, hi)
        SELECT sensor_id, measure_id, min("timestamp"), max("timestamp")
        FROM (
            SELECT sensor_id, measure_id, "timestamp" FROM new_rows
            UNION ALL
            SELECT sensor_id, measure_id, "timestamp" FROM old_rows o
            WHERE EXISTS (SELECT FROM sensor s WHERE s.id = o.sensor_id)
        ) AS changed
        GROUP BY sensor_id, measure_id,
            date_bin('86400 seconds', "timestamp", '1970-01-01 00:00:00+00');
    ELSE
        INSERT INTO sensor_reading_dirty (sensor_id, measure_id, lo, hi)
        SELECT sensor_id, measure_id, min("timestamp"), max("timestamp") FROM old_rows o
        WHERE EXISTS (SELECT FROM sensor s WHERE s.id = o.sensor_id)
        GROUP BY sensor_id, measure_id,
            date_bin('86400 seconds', "timestamp", '1970-01-01 00:00:00+00');
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGERS = [
    "CREATE TRIGGER sensor_reading_rollup_insert AFTER INSERT ON sensor_reading"
    " REFERENCING NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION sensor_reading_mark_dirty()",
    "CREATE TRIGGER sensor_reading_rollup_update AFTER UPDATE ON sensor_reading"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION sensor_reading_mark_dirty()",
    "CREATE TRIGGER sensor_reading_rollup_delete AFTER DELETE ON sensor_reading"
    " REFERENCING OLD TABLE AS old_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION sensor_reading_mark_dirty()",
]


def upgrade() -> None:
    op.create_table(
        "sensor_reading_rollup",
        sa.Column("sensor_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("width_seconds", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("sum_float", sa.Double(), nullable=True),
        sa.Column("min_float", sa.Double(), nullable=True),
        sa.Column("max_float", sa.Double(), nullable=True),
        sa.Column("sum_integer", sa.Numeric(), nullable=True),
        sa.Column("min_integer", sa.BigInteger(), nullable=True),
        sa.Column("max_integer", sa.BigInteger(), nullable=True),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["sensor_measure.id"],
            name=op.f("fk_sensor_reading_rollup_measure_id_sensor_measure"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sensor_id"],
            ["sensor.id"],
            name=op.f("fk_sensor_reading_rollup_sensor_id_sensor"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "sensor_id",
            "measure_id",
            "width_seconds",
            "bucket",
            name=op.f("pk_sensor_reading_rollup"),
        ),
    )
    op.create_table(
        "sensor_reading_dirty",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("sensor_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("lo", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hi", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["sensor_measure.id"],
            name=op.f("fk_sensor_reading_dirty_measure_id_sensor_measure"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sensor_id"],
            ["sensor.id"],
            name=op.f("fk_sensor_reading_dirty_sensor_id_sensor"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_reading_dirty")),
    )
    op.create_index(
        op.f("ix_sensor_reading_dirty_sensor_id"),
        "sensor_reading_dirty",
        ["sensor_id", "measure_id"],
        unique=False,
    )
    op.execute(MARK_DIRTY)
    for trigger in TRIGGERS:
        op.execute(trigger)
    # Readings stored before this revision: all dirty, rolled up on first read.
    op.execute(
        "INSERT INTO sensor_reading_dirty (sensor_id, measure_id, lo, hi)"
        ' SELECT sensor_id, measure_id, min("timestamp"), max("timestamp") FROM sensor_reading'
        " GROUP BY sensor_id, measure_id,"
        " date_bin('86400 seconds', \"timestamp\", '1970-01-01 00:00:00+00')"
    )


def downgrade() -> None:
    for name in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER sensor_reading_rollup_{name} ON sensor_reading")
    op.execute("DROP FUNCTION sensor_reading_mark_dirty()")
    op.drop_index(op.f("ix_sensor_reading_dirty_sensor_id"), table_name="sensor_reading_dirty")
    op.drop_table("sensor_reading_dirty")
    op.drop_table("sensor_reading_rollup")
