"""email channels

Revision ID: 12be09202d85
Revises: c6872d582992
Create Date: 2026-12-01 11:41:27.294869+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '12be09202d85'
down_revision: str | None = 'c6872d582992'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TYPE channel_kind ADD VALUE IF NOT EXISTS 'email'")
    op.add_column('inbound_messages', sa.Column('raw', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # The 'email' value of channel_kind stays (PostgreSQL cannot drop it), and so do email channels.
    op.drop_column('inbound_messages', 'raw')
