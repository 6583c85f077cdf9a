"""call_url deliveries

Revision ID: 3f6b2d8e9c41
Revises: bf1a083de333
Create Date: 2026-12-12 17:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "3f6b2d8e9c41"
down_revision: str | None = "bf1a083de333"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A delivery carries an event or, for a rule's call_url action, a body of its own.
    op.alter_column("webhook_deliveries", "event_id", existing_type=sa.Uuid(), nullable=True)
    op.add_column("webhook_deliveries", sa.Column("body", sa.Text(), nullable=True))
    op.add_column("webhook_deliveries", sa.Column("ticket_id", sa.Uuid(), nullable=True))
    op.add_column(
        "webhook_deliveries",
        sa.Column(
            "actor_type",
            postgresql.ENUM(name="actor_type", create_type=False),
            nullable=True,
        ),
    )
    op.add_column("webhook_deliveries", sa.Column("actor_id", sa.Uuid(), nullable=True))
    # Every existing delivery has its event: the constraint holds without rewriting anything.
    op.create_check_constraint(
        op.f("ck_webhook_deliveries_event_or_body"),
        "webhook_deliveries",
        "(event_id IS NULL) <> (body IS NULL)",
    )
    op.create_index(
        "ix_webhook_deliveries_created_at",
        "webhook_deliveries",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("event_id IS NULL"),
    )


def downgrade() -> None:
    # The call_url requests cannot exist without their body: they go.
    op.execute("DELETE FROM webhook_deliveries WHERE event_id IS NULL")
    op.drop_index(
        "ix_webhook_deliveries_created_at",
        table_name="webhook_deliveries",
        postgresql_where=sa.text("event_id IS NULL"),
    )
    op.drop_constraint(op.f("ck_webhook_deliveries_event_or_body"), "webhook_deliveries", type_="check")
    op.drop_column("webhook_deliveries", "actor_id")
    op.drop_column("webhook_deliveries", "actor_type")
    op.drop_column("webhook_deliveries", "ticket_id")
    op.drop_column("webhook_deliveries", "body")
    op.alter_column("webhook_deliveries", "event_id", existing_type=sa.Uuid(), nullable=False)
