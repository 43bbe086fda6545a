"""A model run is unique on (model, scenario, time_created, sensor, sensor measure).

One call of a model service forecasting several sensors at one run time writes one run
per sensor; with the old key (model, scenario, time_created) the second was refused.
Nulls are not distinct, so runs linked to no sensor keep the old key. Every table that
satisfied the old key satisfies the new one; going down fails if runs now differ only by
their sensor link (delete or re-time them first).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 22:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "uq_model_run_model_id_scenario_id_time_created"
NEW = "uq_model_run_identity"
OLD_COLUMNS = ["model_id", "scenario_id", "time_created"]
NEW_COLUMNS = [*OLD_COLUMNS, "sensor_id", "sensor_measure_id"]


def upgrade() -> None:
    op.drop_constraint(OLD, "model_run", type_="unique")
    op.create_unique_constraint(NEW, "model_run", NEW_COLUMNS, postgresql_nulls_not_distinct=True)


def downgrade() -> None:
    op.drop_constraint(NEW, "model_run", type_="unique")
    op.create_unique_constraint(OLD, "model_run", OLD_COLUMNS, postgresql_nulls_not_distinct=True)
