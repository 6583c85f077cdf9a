"""automatic mail

Revision ID: 5e8c2a4f7d19
Revises: 8b3f1d6e2a47
Create Date: 2026-12-12 10:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5e8c2a4f7d19"
down_revision: str | None = "8b3f1d6e2a47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A reply the loop rules kept from going out (an automatic reply to automatic mail): no failure.
    op.execute("ALTER TYPE delivery_state ADD VALUE IF NOT EXISTS 'suppressed'")


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value: the replies that were suppressed read as failed.
    op.execute("UPDATE outbound_messages SET state = 'failed' WHERE state = 'suppressed'")
    op.execute("UPDATE comments SET delivery_state = 'failed' WHERE delivery_state = 'suppressed'")
