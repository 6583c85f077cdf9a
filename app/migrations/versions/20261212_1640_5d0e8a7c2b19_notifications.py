"""notifications: the agents' feed

Revision ID: 5d0e8a7c2b19
Revises: 7d2f9c4e1a36
Create Date: 2026-12-12 16:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5d0e8a7c2b19"
down_revision: str | None = "7d2f9c4e1a36"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "mentioned",
    "assigned",
    "sla_breached",
    "sla_warning",
    "customer_replied",
    "category_opened",
    "category_closed",
)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Enum(*KINDS, name="notification_kind"), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("comment_id", sa.Uuid(), nullable=True),
        sa.Column("actor_type", postgresql.ENUM(name="actor_type", create_type=False), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_notifications_workspace_id"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "agent_id"],
            ["agents.workspace_id", "agents.id"],
            name=op.f("fk_notifications_workspace_id_agent_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "ticket_id"],
            ["tickets.workspace_id", "tickets.id"],
            name=op.f("fk_notifications_workspace_id_ticket_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_notifications")),
    )
    op.create_index(
        "ix_notifications_workspace_id_agent_id_created_at",
        "notifications",
        ["workspace_id", "agent_id", "created_at"],
    )
    op.create_index(
        "ix_notifications_unread",
        "notifications",
        ["workspace_id", "agent_id", "created_at"],
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.create_index("ix_notifications_created_at", "notifications", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_created_at", table_name="notifications")
    op.drop_index("ix_notifications_unread", table_name="notifications")
    op.drop_index("ix_notifications_workspace_id_agent_id_created_at", table_name="notifications")
    op.drop_table("notifications")
    sa.Enum(name="notification_kind").drop(op.get_bind(), checkfirst=True)
