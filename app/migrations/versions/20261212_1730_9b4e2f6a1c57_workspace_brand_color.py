"""workspace brand color

Revision ID: 9b4e2f6a1c57
Revises: 8e3b6f1d4c27
Create Date: 2026-12-12 17:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9b4e2f6a1c57"
down_revision: str | None = "8e3b6f1d4c27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The colour of the customer pages' header and buttons; a constant default adds no table rewrite.
    op.add_column(
        "workspaces", sa.Column("brand_color", sa.String(7), server_default="#1d4ed8", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("workspaces", "brand_color")
