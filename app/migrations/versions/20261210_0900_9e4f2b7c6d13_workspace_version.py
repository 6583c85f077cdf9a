"""workspace version

Revision ID: 9e4f2b7c6d13
Revises: 1b159ec8511b
Create Date: 2026-12-10 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9e4f2b7c6d13"
down_revision: str | None = "1b159ec8511b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The workspace's ETag, as every other changeable resource has (existing workspaces start at 1).
    op.add_column("workspaces", sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    op.drop_column("workspaces", "version")
