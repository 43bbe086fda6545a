"""Login sessions (revocable tokens), login attempts (throttling), one account per email
whatever its case.

Accounts whose emails differ only in case are kept: the oldest keeps its address, each
later one is renamed `duplicate-<id>-<email>` (logged) so that an admin can look at it and
delete it or tell its owner. Nothing is lost and no login becomes ambiguous.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 22:30:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")

RENAME_CASE_DUPLICATES = sa.text(
    "UPDATE users AS later SET email = left('duplicate-' || later.id || '-' || later.email, 320)"
    " WHERE EXISTS (SELECT FROM users AS earlier"
    "   WHERE lower(earlier.email) = lower(later.email) AND earlier.id < later.id)"
    " RETURNING later.id, later.email"
)


def upgrade() -> None:
    for user_id, email in op.get_bind().execute(RENAME_CASE_DUPLICATES):
        logger.warning(
            "User %s had the email of an older account in another case; renamed to %s",
            user_id,
            email,
        )
    op.drop_constraint("uq_users_email", "users", type_="unique")
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("refresh_number", sa.Integer(), nullable=False),
        sa.Column(
            "rotated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_auth_sessions_user_id_users"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
    )
    op.create_index(op.f("ix_auth_sessions_user_id"), "auth_sessions", ["user_id"])
    op.create_table(
        "login_attempts",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_attempts")),
    )
    op.create_index(op.f("ix_login_attempts_window_start"), "login_attempts", ["window_start"])


def downgrade() -> None:
    op.drop_table("login_attempts")
    op.drop_table("auth_sessions")
    op.drop_index("uq_users_email_lower", "users")
    # Emails that differ only in case may exist by now: the old constraint does not mind.
    op.create_unique_constraint(op.f("uq_users_email"), "users", ["email"])
