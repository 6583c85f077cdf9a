"""ticket ccs

Revision ID: 81907020cfb9
Revises: 2ecbe04e78f4
Create Date: 2026-12-12 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "81907020cfb9"
down_revision: str | None = "2ecbe04e78f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The contacts copied on a ticket's public email replies; every existing ticket has none.
    op.add_column(
        "tickets",
        sa.Column("ccs", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False),
    )
    # The tickets a contact is copied on: a contact in use is not deleted.
    op.create_index("ix_tickets_ccs", "tickets", ["ccs"], unique=False, postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_tickets_ccs", table_name="tickets", postgresql_using="gin")
    op.drop_column("tickets", "ccs")
