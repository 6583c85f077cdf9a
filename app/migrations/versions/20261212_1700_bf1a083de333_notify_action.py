"""notify action: notification emails queued for a worker, the workspace's notification channel

Revision ID: bf1a083de333
Revises: 6c1d9e27a4b3
Create Date: 2026-12-12 17:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "bf1a083de333"
down_revision: str | None = "6c1d9e27a4b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("queued", "sending", "sent", "failed")
KINDS_BEFORE = (
    "mentioned",
    "assigned",
    "sla_breached",
    "sla_warning",
    "customer_replied",
    "category_opened",
    "category_closed",
)


def upgrade() -> None:
    op.execute("ALTER TYPE notification_kind ADD VALUE IF NOT EXISTS 'rule'")
    op.add_column("workspaces", sa.Column("notification_channel_id", sa.Uuid(), nullable=True))
    op.create_table(
        "notification_emails",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_type", sa.String(length=16), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("to_name", sa.String(length=200), nullable=True),
        sa.Column("subject", sa.String(length=1000), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=500), nullable=False),
        sa.Column("actor_type", postgresql.ENUM(name="actor_type", create_type=False), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(*STATES, name="notification_email_state"),
            server_default="queued",
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_notification_emails_workspace_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "ticket_id"],
            ["tickets.workspace_id", "tickets.id"],
            name=op.f("fk_notification_emails_workspace_id_ticket_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "channel_id"],
            ["channels.workspace_id", "channels.id"],
            name=op.f("fk_notification_emails_workspace_id_channel_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_notification_emails")),
    )
    op.create_index(
        "ix_notification_emails_due",
        "notification_emails",
        ["next_attempt_at"],
        postgresql_where=sa.text("state = 'queued'"),
    )
    op.create_index(
        "ix_notification_emails_sending",
        "notification_emails",
        ["leased_until"],
        postgresql_where=sa.text("state = 'sending'"),
    )
    op.create_index(
        "ix_notification_emails_workspace_id_ticket_id", "notification_emails", ["workspace_id", "ticket_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_notification_emails_workspace_id_ticket_id", table_name="notification_emails")
    op.drop_index("ix_notification_emails_sending", table_name="notification_emails")
    op.drop_index("ix_notification_emails_due", table_name="notification_emails")
    op.drop_table("notification_emails")
    sa.Enum(name="notification_email_state").drop(op.get_bind(), checkfirst=True)
    op.drop_column("workspaces", "notification_channel_id")
    # PostgreSQL cannot drop a value of an enum: the type is made again without it.
    op.execute("DELETE FROM notifications WHERE kind = 'rule'")
    op.execute("ALTER TYPE notification_kind RENAME TO notification_kind_old")
    sa.Enum(*KINDS_BEFORE, name="notification_kind").create(op.get_bind())
    op.execute(
        "ALTER TABLE notifications ALTER COLUMN kind TYPE notification_kind "
        "USING kind::text::notification_kind"
    )
    op.execute("DROP TYPE notification_kind_old")
