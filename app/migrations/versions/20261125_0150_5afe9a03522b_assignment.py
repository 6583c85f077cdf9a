"""assignment

Revision ID: 5afe9a03522b
Revises: 002b8a1df2e0
Create Date: 2026-11-25 01:50:21.854355+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

ASSIGNMENT_STRATEGY = postgresql.ENUM(
    "manual", "round_robin", "least_loaded", "skills", name="assignment_strategy", create_type=False
)
# Changes that may let a group hand out its waiting tickets wake the workers (helpdesk_notify is the
# webhooks revision's).
NOTIFY_TRIGGERS = {
    "agents_assignment_notify": "AFTER UPDATE OF availability, capacity, active, skills ON agents",
    "group_members_assignment_notify": "AFTER INSERT ON group_members",
    "groups_assignment_notify": "AFTER UPDATE OF assignment_strategy, assign_to_away ON groups",
}

revision: str = '5afe9a03522b'
down_revision: str | None = '002b8a1df2e0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ASSIGNMENT_STRATEGY.create(op.get_bind(), checkfirst=True)
    op.add_column('group_members', sa.Column('last_assigned_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('groups', sa.Column('assignment_strategy', ASSIGNMENT_STRATEGY, server_default='manual', nullable=False))
    op.add_column('groups', sa.Column('assign_to_away', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('groups', sa.Column('reassign_on_offline', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('ticket_statuses', sa.Column('pauses_sla', sa.Boolean(), server_default='false', nullable=False))
    op.execute("UPDATE ticket_statuses SET pauses_sla = kind IN ('pending', 'on_hold')")
    op.add_column('tickets', sa.Column('required_skills', postgresql.ARRAY(sa.String(length=100)), server_default='{}', nullable=False))
    op.create_index('ix_tickets_waiting', 'tickets', ['workspace_id', 'group_id', 'created_at'], unique=False, postgresql_where=sa.text("assignee_id IS NULL AND group_id IS NOT NULL AND deleted_at IS NULL AND status_kind IN ('new', 'open', 'pending', 'on_hold')"))
    op.create_index('ix_tickets_workspace_id_assignee_id_unresolved', 'tickets', ['workspace_id', 'assignee_id'], unique=False, postgresql_where=sa.text("assignee_id IS NOT NULL AND deleted_at IS NULL AND status_kind IN ('new', 'open', 'pending', 'on_hold')"))

    for name, when in NOTIFY_TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {when} "
            "FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_notify('helpdesk_assignment')"
        )


def downgrade() -> None:
    for name, when in NOTIFY_TRIGGERS.items():
        op.execute(f"DROP TRIGGER {name} ON {when.rsplit(' ', 1)[1]}")
    op.drop_index('ix_tickets_workspace_id_assignee_id_unresolved', table_name='tickets', postgresql_where=sa.text("assignee_id IS NOT NULL AND deleted_at IS NULL AND status_kind IN ('new', 'open', 'pending', 'on_hold')"))
    op.drop_index('ix_tickets_waiting', table_name='tickets', postgresql_where=sa.text("assignee_id IS NULL AND group_id IS NOT NULL AND deleted_at IS NULL AND status_kind IN ('new', 'open', 'pending', 'on_hold')"))
    op.drop_column('tickets', 'required_skills')
    op.drop_column('ticket_statuses', 'pauses_sla')
    op.drop_column('groups', 'reassign_on_offline')
    op.drop_column('groups', 'assign_to_away')
    op.drop_column('groups', 'assignment_strategy')
    op.drop_column('group_members', 'last_assigned_at')
    ASSIGNMENT_STRATEGY.drop(op.get_bind(), checkfirst=True)
