"""workspace rate limit

Revision ID: 4a7d2e9c1f58
Revises: 6c2e8f4a7b19
Create Date: 2026-12-11 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4a7d2e9c1f58"
down_revision: str | None = "6c2e8f4a7b19"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A workspace's own requests a minute; null (every existing workspace) keeps the service's default.
    op.add_column("workspaces", sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("workspaces", "rate_limit_per_minute")
