"""The events outbox: one row per committed change, ids in commit order, NOTIFY on commit.

Ids follow commit order: a statement inserting events first takes a transaction-level
advisory lock, held until commit, so an id is drawn only once every transaction that drew
a smaller one is visible; a reader of `id > last_seen` therefore never misses an event that
commits later. Both triggers fire always, also in replica mode (bulk ingest's
`session_replication_role`, see `dtbase.backend.timeseries.foreign_keys`).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Any fixed number: the advisory lock's key ("dtbase events" in ASCII, shortened).
LOCK_KEY = 0x6474_6576_656E_7473

FUNCTIONS = [
    "CREATE FUNCTION event_commit_order() RETURNS trigger LANGUAGE plpgsql AS $$"
    f" BEGIN PERFORM pg_advisory_xact_lock({LOCK_KEY}); RETURN NULL; END $$",
    "CREATE FUNCTION event_notify() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN PERFORM pg_notify('dtbase_events', ''); RETURN NULL; END $$",
]
TRIGGERS = [
    "CREATE TRIGGER event_commit_order BEFORE INSERT ON event"
    " FOR EACH STATEMENT EXECUTE FUNCTION event_commit_order()",
    "CREATE TRIGGER event_notify AFTER INSERT ON event"
    " FOR EACH STATEMENT EXECUTE FUNCTION event_notify()",
    "ALTER TABLE event ENABLE ALWAYS TRIGGER event_commit_order",
    "ALTER TABLE event ENABLE ALWAYS TRIGGER event_notify",
]


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column(
            "time",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("meta", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
    )
    op.create_index("ix_event_time", "event", ["time"], unique=False)
    for statement in FUNCTIONS + TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("event")
    op.execute("DROP FUNCTION event_notify()")
    op.execute("DROP FUNCTION event_commit_order()")
