"""agents by custom role

Revision ID: 8b3f1d6e2a47
Revises: 4a7d2e9c1f58
Create Date: 2026-12-11 10:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8b3f1d6e2a47"
down_revision: str | None = "4a7d2e9c1f58"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The agents of a role: whether it is in use, and the foreign key's check when a role is deleted.
    op.create_index(
        "ix_agents_workspace_id_custom_role_id",
        "agents",
        ["workspace_id", "custom_role_id"],
        postgresql_where=sa.text("custom_role_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_agents_workspace_id_custom_role_id", table_name="agents")
