"""inbound claim order

Revision ID: 0586e9d62d68
Revises: 12be09202d85
Create Date: 2026-12-06 23:22:44.145566+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0586e9d62d68"
down_revision: str | None = "12be09202d85"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DUE = sa.text("state = 'received'")


def upgrade() -> None:
    op.drop_index("ix_inbound_messages_due", table_name="inbound_messages")
    op.create_index(
        "ix_inbound_messages_due", "inbound_messages", ["next_attempt_at", "id"], postgresql_where=DUE
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_due", table_name="inbound_messages")
    op.create_index("ix_inbound_messages_due", "inbound_messages", ["next_attempt_at"], postgresql_where=DUE)
