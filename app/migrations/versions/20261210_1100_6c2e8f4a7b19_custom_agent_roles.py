"""custom agent roles

Revision ID: 6c2e8f4a7b19
Revises: 3a7d5c9e1f28
Create Date: 2026-12-10 11:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "6c2e8f4a7b19"
down_revision: str | None = "3a7d5c9e1f28"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_roles",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("permissions", postgresql.ARRAY(sa.String(length=40)), server_default="{}", nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_agent_roles_workspace_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_agent_roles")),
    )
    op.create_index(
        "uq_agent_roles_workspace_id_name",
        "agent_roles",
        ["workspace_id", sa.literal_column("lower(name)")],
        unique=True,
    )
    op.add_column("agents", sa.Column("custom_role_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_agents_workspace_id_custom_role_id"),
        "agents",
        "agent_roles",
        ["workspace_id", "custom_role_id"],
        ["workspace_id", "id"],
        ondelete="RESTRICT",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_agents_workspace_id_custom_role_id"), "agents", type_="foreignkey")
    op.drop_column("agents", "custom_role_id")
    op.drop_index("uq_agent_roles_workspace_id_name", table_name="agent_roles")
    op.drop_table("agent_roles")
