"""api key scopes

Revision ID: 3a7d5c9e1f28
Revises: 9e4f2b7c6d13
Create Date: 2026-12-10 10:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3a7d5c9e1f28"
down_revision: str | None = "9e4f2b7c6d13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # What a key may do within its role; existing keys keep all their role may (NULL).
    op.add_column("api_keys", sa.Column("scopes", sa.ARRAY(sa.String(length=32)), nullable=True))


def downgrade() -> None:
    op.drop_column("api_keys", "scopes")
