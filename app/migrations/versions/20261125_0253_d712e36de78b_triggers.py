"""triggers

Revision ID: d712e36de78b
Revises: 59d6d2d68ff9
Create Date: 2026-11-25 02:53:29.494674+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'd712e36de78b'
down_revision: str | None = '59d6d2d68ff9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # History and events name the trigger that made a change.
    op.execute("ALTER TYPE actor_type ADD VALUE IF NOT EXISTS 'trigger'")
    op.create_table('triggers',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=True),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('events', postgresql.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('conditions', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('actions', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_triggers_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_triggers'))
    )
    op.create_index('uq_triggers_workspace_id_name', 'triggers', ['workspace_id', sa.literal_column('lower(name)')], unique=True)


def downgrade() -> None:
    # PostgreSQL cannot drop a value of an enum: actor_type keeps 'trigger', unused.
    op.drop_index('uq_triggers_workspace_id_name', table_name='triggers')
    op.drop_table('triggers')
