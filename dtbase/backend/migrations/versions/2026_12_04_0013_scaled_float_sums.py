"""Rollup sums of floats are kept scaled by 2**-64 (dtbase.backend.sensors.rollups,
FLOAT_SUM_SCALE), so that they cannot overflow: the sums already stored are scaled the
same way (exactly: only their exponent changes).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # 0.5 ^ 64 is 2**-64 exactly.
    op.execute("UPDATE sensor_reading_rollup SET sum_float = sum_float * 0.5 ^ 64")


def downgrade() -> None:
    # A sum out of the double range unscaled cannot go back: those rollups are dropped and
    # their buckets marked dirty, so the next read or refresh rebuilds them.
    op.execute(
        "INSERT INTO sensor_reading_dirty (sensor_id, measure_id, lo, hi)"
        " SELECT sensor_id, measure_id, bucket, bucket + make_interval(secs => width_seconds)"
        " FROM sensor_reading_rollup"
        " WHERE abs(sum_float) >= 1.7976931348623157e308 * 0.5 ^ 64"
    )
    op.execute(
        "DELETE FROM sensor_reading_rollup"
        " WHERE abs(sum_float) >= 1.7976931348623157e308 * 0.5 ^ 64"
    )
    op.execute("UPDATE sensor_reading_rollup SET sum_float = sum_float * 2.0 ^ 64")
