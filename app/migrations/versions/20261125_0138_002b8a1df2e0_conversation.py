"""conversation

Revision ID: 002b8a1df2e0
Revises: 89cab92b91a0
Create Date: 2026-11-25 01:38:09.410815+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '002b8a1df2e0'
down_revision: str | None = '89cab92b91a0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('macros',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=True),
    sa.Column('body', sa.Text(), server_default='', nullable=False),
    sa.Column('public', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=True),
    sa.Column('actions', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('search_text', sa.Text(), server_default='', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'group_id'], ['groups.workspace_id', 'groups.id'], name=op.f('fk_macros_workspace_id_group_id')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_macros_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_macros'))
    )
    op.create_index('ix_macros_workspace_id_group_id', 'macros', ['workspace_id', 'group_id'], unique=False)
    op.create_index('uq_macros_workspace_id_name', 'macros', ['workspace_id', sa.literal_column('lower(name)')], unique=True)
    op.create_table('comments',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=False),
    sa.Column('author_type', sa.Enum('agent', 'contact', 'system', name='comment_author'), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=True),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=True),
    sa.Column('channel', postgresql.ENUM(name='channel', create_type=False), nullable=True),
    sa.Column('provider_message_id', sa.String(length=500), nullable=True),
    sa.Column('original_ticket_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'ticket_id'], ['tickets.workspace_id', 'tickets.id'], name=op.f('fk_comments_workspace_id_ticket_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_comments_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_comments'))
    )
    op.create_index('ix_comments_workspace_id_ticket_id_id', 'comments', ['workspace_id', 'ticket_id', 'id'], unique=False)
    op.create_table('ticket_links',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=False),
    sa.Column('linked_ticket_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Enum('related', 'duplicate_of', 'follow_up_of', name='link_kind'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'linked_ticket_id'], ['tickets.workspace_id', 'tickets.id'], name=op.f('fk_ticket_links_workspace_id_linked_ticket_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id', 'ticket_id'], ['tickets.workspace_id', 'tickets.id'], name=op.f('fk_ticket_links_workspace_id_ticket_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_ticket_links_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_ticket_links')),
    sa.UniqueConstraint('workspace_id', 'ticket_id', 'linked_ticket_id', 'kind', name=op.f('uq_ticket_links_workspace_id_ticket_id_linked_ticket_id_kind'))
    )
    op.create_index('ix_ticket_links_workspace_id_linked_ticket_id', 'ticket_links', ['workspace_id', 'linked_ticket_id'], unique=False)
    op.create_table('ticket_presence',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=False),
    sa.Column('agent_id', sa.Uuid(), nullable=False),
    sa.Column('state', sa.Enum('viewing', 'typing', name='presence_state'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'agent_id'], ['agents.workspace_id', 'agents.id'], name=op.f('fk_ticket_presence_workspace_id_agent_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id', 'ticket_id'], ['tickets.workspace_id', 'tickets.id'], name=op.f('fk_ticket_presence_workspace_id_ticket_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'ticket_id', 'agent_id', name=op.f('pk_ticket_presence'))
    )
    op.create_index('ix_ticket_presence_expires_at', 'ticket_presence', ['expires_at'], unique=False)
    op.create_table('attachments',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=True),
    sa.Column('comment_id', sa.Uuid(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=255), nullable=False),
    sa.Column('storage_key', sa.String(length=255), nullable=False),
    sa.Column('uploaded_by_type', postgresql.ENUM(name='actor_type', create_type=False), nullable=False),
    sa.Column('uploaded_by_id', sa.Uuid(), nullable=False),
    sa.Column('upload_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('attached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'comment_id'], ['comments.workspace_id', 'comments.id'], name=op.f('fk_attachments_workspace_id_comment_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id', 'ticket_id'], ['tickets.workspace_id', 'tickets.id'], name=op.f('fk_attachments_workspace_id_ticket_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_attachments_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_attachments')),
    sa.UniqueConstraint('workspace_id', 'upload_token', name=op.f('uq_attachments_workspace_id_upload_token'))
    )
    op.create_index('ix_attachments_unattached_created_at', 'attachments', ['created_at'], unique=False, postgresql_where=sa.text('attached_at IS NULL'))
    op.create_index('ix_attachments_workspace_id_comment_id', 'attachments', ['workspace_id', 'comment_id'], unique=False)
    op.create_index('ix_attachments_workspace_id_ticket_id', 'attachments', ['workspace_id', 'ticket_id'], unique=False)
    op.add_column('tickets', sa.Column('last_public_comment_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('tickets', sa.Column('last_public_comment_by', sa.Enum('agent', 'contact', 'system', name='comment_author'), nullable=True))
    op.add_column('tickets', sa.Column('merged_into_id', sa.Uuid(), nullable=True))
    op.create_foreign_key(op.f('fk_tickets_workspace_id_merged_into_id'), 'tickets', 'tickets', ['workspace_id', 'merged_into_id'], ['workspace_id', 'id'])


def downgrade() -> None:
    op.drop_constraint(op.f('fk_tickets_workspace_id_merged_into_id'), 'tickets', type_='foreignkey')
    op.drop_column('tickets', 'merged_into_id')
    op.drop_column('tickets', 'last_public_comment_by')
    op.drop_column('tickets', 'last_public_comment_at')
    op.drop_index('ix_attachments_workspace_id_ticket_id', table_name='attachments')
    op.drop_index('ix_attachments_workspace_id_comment_id', table_name='attachments')
    op.drop_index('ix_attachments_unattached_created_at', table_name='attachments', postgresql_where=sa.text('attached_at IS NULL'))
    op.drop_table('attachments')
    op.drop_index('ix_ticket_presence_expires_at', table_name='ticket_presence')
    op.drop_table('ticket_presence')
    op.drop_index('ix_ticket_links_workspace_id_linked_ticket_id', table_name='ticket_links')
    op.drop_table('ticket_links')
    op.drop_index('ix_comments_workspace_id_ticket_id_id', table_name='comments')
    op.drop_table('comments')
    op.drop_index('uq_macros_workspace_id_name', table_name='macros')
    op.drop_index('ix_macros_workspace_id_group_id', table_name='macros')
    op.drop_table('macros')
    sa.Enum(name='comment_author').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='link_kind').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='presence_state').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='macro_scope').drop(op.get_bind(), checkfirst=True)
