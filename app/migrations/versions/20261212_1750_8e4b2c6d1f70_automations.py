"""automations: rules over time, and each ticket's next automation time

Revision ID: 8e4b2c6d1f70
Revises: 8e3b5a1f9c64
Create Date: 2026-12-12 17:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "8e4b2c6d1f70"
down_revision: str | None = "8e3b5a1f9c64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TYPE actor_type ADD VALUE IF NOT EXISTS 'automation'")
    op.create_table(
        "automations",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("conditions", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("actions", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_automations_workspace_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_automations")),
    )
    op.create_index(
        "uq_automations_workspace_id_name",
        "automations",
        ["workspace_id", sa.literal_column("lower(name)")],
        unique=True,
    )
    # Automations are rules: a change to one moves the workspace's rules version.
    op.execute(
        "CREATE TRIGGER automations_move_rules_version AFTER INSERT OR UPDATE OR DELETE ON automations "
        "FOR EACH ROW EXECUTE FUNCTION move_rules_version()"
    )
    op.create_table(
        "automation_rescans",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("after_ticket_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_automation_rescans_workspace_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_automation_rescans")),
    )
    op.add_column("tickets", sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tickets", sa.Column("automation_due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "tickets",
        sa.Column("automations_done", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False),
    )
    # Tickets assigned before the column existed: since their last change, the closest known time.
    op.execute("UPDATE tickets SET assigned_at = updated_at WHERE assignee_id IS NOT NULL")
    op.create_index(
        "ix_tickets_automation_due_at",
        "tickets",
        ["automation_due_at"],
        postgresql_where=sa.text("automation_due_at IS NOT NULL"),
    )


def downgrade() -> None:
    # PostgreSQL cannot drop a value of an enum: actor_type keeps 'automation', unused.
    op.drop_index("ix_tickets_automation_due_at", table_name="tickets")
    op.drop_column("tickets", "automations_done")
    op.drop_column("tickets", "automation_due_at")
    op.drop_column("tickets", "assigned_at")
    op.drop_table("automation_rescans")
    op.execute("DROP TRIGGER automations_move_rules_version ON automations")
    op.drop_index("uq_automations_workspace_id_name", table_name="automations")
    op.drop_table("automations")
