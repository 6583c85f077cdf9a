"""sla

Revision ID: 59d6d2d68ff9
Revises: 5afe9a03522b
Create Date: 2026-11-25 02:14:35.689711+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '59d6d2d68ff9'
down_revision: str | None = '5afe9a03522b'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('business_calendars',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('hours', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('holidays', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_business_calendars_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_business_calendars'))
    )
    op.create_index('uq_business_calendars_workspace_id_name', 'business_calendars', ['workspace_id', sa.literal_column('lower(name)')], unique=True)
    op.create_table('sla_policies',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=True),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('conditions', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('calendar_id', sa.Uuid(), nullable=True),
    sa.Column('targets', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('warn_at_percent', sa.Integer(), nullable=True),
    sa.Column('warn_minutes_before', sa.Integer(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'calendar_id'], ['business_calendars.workspace_id', 'business_calendars.id'], name=op.f('fk_sla_policies_workspace_id_calendar_id')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_sla_policies_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_sla_policies'))
    )
    op.create_index('ix_sla_policies_workspace_id_calendar_id', 'sla_policies', ['workspace_id', 'calendar_id'], unique=False)
    op.create_index('uq_sla_policies_workspace_id_name', 'sla_policies', ['workspace_id', sa.literal_column('lower(name)')], unique=True)
    op.create_table('ticket_slas',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=False),
    sa.Column('metric', sa.Enum('first_response', 'next_response', 'resolution', name='sla_metric'), nullable=False),
    sa.Column('policy_id', sa.Uuid(), nullable=False),
    sa.Column('cycle', sa.Integer(), server_default='1', nullable=False),
    sa.Column('target_seconds', sa.Integer(), nullable=False),
    sa.Column('business_hours', sa.Boolean(), nullable=False),
    sa.Column('calendar_id', sa.Uuid(), nullable=True),
    sa.Column('state', sa.Enum('running', 'paused', 'fulfilled', 'cancelled', name='sla_state'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('elapsed_seconds', sa.Float(), server_default='0', nullable=False),
    sa.Column('running_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('warn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('warned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('breached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cycles_fulfilled', sa.Integer(), server_default='0', nullable=False),
    sa.Column('cycles_breached', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'calendar_id'], ['business_calendars.workspace_id', 'business_calendars.id'], name=op.f('fk_ticket_slas_workspace_id_calendar_id')),
    sa.ForeignKeyConstraint(['workspace_id', 'policy_id'], ['sla_policies.workspace_id', 'sla_policies.id'], name=op.f('fk_ticket_slas_workspace_id_policy_id')),
    sa.ForeignKeyConstraint(['workspace_id', 'ticket_id'], ['tickets.workspace_id', 'tickets.id'], name=op.f('fk_ticket_slas_workspace_id_ticket_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_ticket_slas_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'ticket_id', 'metric', name=op.f('pk_ticket_slas'))
    )
    op.create_index('ix_ticket_slas_next_check_at', 'ticket_slas', ['next_check_at'], unique=False, postgresql_where=sa.text('next_check_at IS NOT NULL'))
    op.create_index('ix_ticket_slas_workspace_id_calendar_id', 'ticket_slas', ['workspace_id', 'calendar_id'], unique=False)
    op.create_index('ix_ticket_slas_workspace_id_policy_id', 'ticket_slas', ['workspace_id', 'policy_id'], unique=False)
    op.add_column('tickets', sa.Column('sla_policy_id', sa.Uuid(), nullable=True))
    op.add_column('tickets', sa.Column('sla_due_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('tickets', sa.Column('sla_breached', sa.Boolean(), server_default='false', nullable=False))
    op.create_index('ix_tickets_workspace_id_sla_due_at_id', 'tickets', ['workspace_id', 'sla_due_at', 'id'], unique=False)
    op.create_foreign_key(op.f('fk_tickets_workspace_id_sla_policy_id'), 'tickets', 'sla_policies', ['workspace_id', 'sla_policy_id'], ['workspace_id', 'id'])


def downgrade() -> None:
    op.drop_constraint(op.f('fk_tickets_workspace_id_sla_policy_id'), 'tickets', type_='foreignkey')
    op.drop_index('ix_tickets_workspace_id_sla_due_at_id', table_name='tickets')
    op.drop_column('tickets', 'sla_breached')
    op.drop_column('tickets', 'sla_due_at')
    op.drop_column('tickets', 'sla_policy_id')
    op.drop_index('ix_ticket_slas_workspace_id_policy_id', table_name='ticket_slas')
    op.drop_index('ix_ticket_slas_workspace_id_calendar_id', table_name='ticket_slas')
    op.drop_index('ix_ticket_slas_next_check_at', table_name='ticket_slas', postgresql_where=sa.text('next_check_at IS NOT NULL'))
    op.drop_table('ticket_slas')
    op.drop_index('uq_sla_policies_workspace_id_name', table_name='sla_policies')
    op.drop_index('ix_sla_policies_workspace_id_calendar_id', table_name='sla_policies')
    op.drop_table('sla_policies')
    op.drop_index('uq_business_calendars_workspace_id_name', table_name='business_calendars')
    op.drop_table('business_calendars')
    sa.Enum(name='sla_metric').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='sla_state').drop(op.get_bind(), checkfirst=True)
