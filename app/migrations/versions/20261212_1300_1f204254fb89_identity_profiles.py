"""identity profiles

Revision ID: 1f204254fb89
Revises: 81907020cfb9
Create Date: 2026-12-12 13:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1f204254fb89"
down_revision: str | None = "81907020cfb9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new Messenger or Zalo customer's name is fetched from the provider by the worker: the channel to
    # ask, when, and how many tries so far. Existing identities have nothing to fetch (NULL, 0): adding
    # the columns rewrites no row.
    op.add_column("contact_identities", sa.Column("profile_channel_id", sa.Uuid(), nullable=True))
    op.add_column(
        "contact_identities", sa.Column("profile_due_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "contact_identities",
        sa.Column("profile_attempts", sa.SmallInteger(), server_default="0", nullable=False),
    )
    op.create_index(
        "ix_contact_identities_profile_due_at",
        "contact_identities",
        ["profile_due_at"],
        postgresql_where=sa.text("profile_due_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_contact_identities_profile_due_at", table_name="contact_identities")
    op.drop_column("contact_identities", "profile_attempts")
    op.drop_column("contact_identities", "profile_due_at")
    op.drop_column("contact_identities", "profile_channel_id")
