"""channels

Revision ID: f932652a754a
Revises: d712e36de78b
Create Date: 2026-12-01 11:08:35.572500+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

TICKET_PRIORITY = postgresql.ENUM(name="ticket_priority", create_type=False)
DELIVERY_STATE = postgresql.ENUM("queued", "sent", "failed", name="delivery_state", create_type=False)
# Stored messages and queued replies wake the workers (helpdesk_notify is the webhooks revision's).
NOTIFY_TRIGGERS = {
    "inbound_messages_notify": ("inbound_messages", "helpdesk_inbound"),
    "outbound_messages_notify": ("outbound_messages", "helpdesk_outbound"),
}

revision: str = 'f932652a754a'
down_revision: str | None = 'd712e36de78b'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # History and events name the channel a message arrived on.
    op.execute("ALTER TYPE actor_type ADD VALUE IF NOT EXISTS 'channel'")
    DELIVERY_STATE.create(op.get_bind(), checkfirst=True)
    op.create_table('channels',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Enum('chat', 'api', name='channel_kind'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('secret_hashes', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('secrets_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('default_group_id', sa.Uuid(), nullable=True),
    sa.Column('default_category_id', sa.Uuid(), nullable=True),
    sa.Column('default_priority', TICKET_PRIORITY, server_default='normal', nullable=False),
    sa.Column('default_tags', postgresql.ARRAY(sa.String(length=100)), server_default='{}', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'default_category_id'], ['categories.workspace_id', 'categories.id'], name=op.f('fk_channels_workspace_id_default_category_id')),
    sa.ForeignKeyConstraint(['workspace_id', 'default_group_id'], ['groups.workspace_id', 'groups.id'], name=op.f('fk_channels_workspace_id_default_group_id')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_channels_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_channels'))
    )
    op.create_index('uq_channels_id', 'channels', ['id'], unique=True)
    op.create_index('uq_channels_workspace_id_name', 'channels', ['workspace_id', sa.literal_column('lower(name)')], unique=True)
    op.create_table('conversations',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('channel_id', sa.Uuid(), nullable=False),
    sa.Column('external_id', sa.String(length=500), nullable=False),
    sa.Column('contact_id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=True),
    sa.Column('address', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('last_inbound_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'channel_id'], ['channels.workspace_id', 'channels.id'], name=op.f('fk_conversations_workspace_id_channel_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id', 'contact_id'], ['contacts.workspace_id', 'contacts.id'], name=op.f('fk_conversations_workspace_id_contact_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_conversations_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_conversations')),
    sa.UniqueConstraint('workspace_id', 'channel_id', 'external_id', name=op.f('uq_conversations_workspace_id_channel_id_external_id'))
    )
    op.create_table('inbound_messages',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('channel_id', sa.Uuid(), nullable=False),
    sa.Column('provider_message_id', sa.String(length=500), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('state', sa.Enum('received', 'processed', 'ignored', 'failed', name='inbound_state'), server_default='received', nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ticket_id', sa.Uuid(), nullable=True),
    sa.Column('comment_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'channel_id'], ['channels.workspace_id', 'channels.id'], name=op.f('fk_inbound_messages_workspace_id_channel_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_inbound_messages_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_inbound_messages')),
    sa.UniqueConstraint('workspace_id', 'channel_id', 'provider_message_id', name=op.f('uq_inbound_messages_workspace_id_channel_id_provider_message_id'))
    )
    op.create_index('ix_inbound_messages_channel_id_received_at', 'inbound_messages', ['workspace_id', 'channel_id', 'received_at'], unique=False)
    op.create_index('ix_inbound_messages_due', 'inbound_messages', ['next_attempt_at'], unique=False, postgresql_where=sa.text("state = 'received'"))
    op.create_table('outbound_messages',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('channel_id', sa.Uuid(), nullable=False),
    sa.Column('conversation_id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=False),
    sa.Column('comment_id', sa.Uuid(), nullable=False),
    sa.Column('state', DELIVERY_STATE, server_default='queued', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('leased_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('provider_message_id', sa.String(length=500), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'channel_id'], ['channels.workspace_id', 'channels.id'], name=op.f('fk_outbound_messages_workspace_id_channel_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id', 'conversation_id'], ['conversations.workspace_id', 'conversations.id'], name=op.f('fk_outbound_messages_workspace_id_conversation_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_outbound_messages_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_outbound_messages'))
    )
    op.create_index('ix_outbound_messages_due', 'outbound_messages', ['next_attempt_at'], unique=False, postgresql_where=sa.text("state = 'queued'"))
    op.create_index('ix_outbound_messages_provider_message_id', 'outbound_messages', ['workspace_id', 'channel_id', 'provider_message_id'], unique=False, postgresql_where=sa.text('provider_message_id IS NOT NULL'))
    op.create_index('ix_outbound_messages_workspace_id_comment_id', 'outbound_messages', ['workspace_id', 'comment_id'], unique=False)
    op.add_column('comments', sa.Column('threading', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('comments', sa.Column('delivery_state', DELIVERY_STATE, nullable=True))
    op.add_column('comments', sa.Column('delivery_error', sa.Text(), nullable=True))
    op.add_column('tickets', sa.Column('conversation_id', sa.Uuid(), nullable=True))
    op.create_foreign_key(op.f('fk_tickets_workspace_id_conversation_id'), 'tickets', 'conversations', ['workspace_id', 'conversation_id'], ['workspace_id', 'id'])
    for name, (table, channel) in NOTIFY_TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE OF next_attempt_at ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_notify('{channel}')"
        )


def downgrade() -> None:
    # PostgreSQL cannot drop a value of an enum: actor_type keeps 'channel', unused.
    for name, (table, _) in NOTIFY_TRIGGERS.items():
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.drop_constraint(op.f('fk_tickets_workspace_id_conversation_id'), 'tickets', type_='foreignkey')
    op.drop_column('tickets', 'conversation_id')
    op.drop_column('comments', 'delivery_error')
    op.drop_column('comments', 'delivery_state')
    op.drop_column('comments', 'threading')
    op.drop_index('ix_outbound_messages_workspace_id_comment_id', table_name='outbound_messages')
    op.drop_index('ix_outbound_messages_provider_message_id', table_name='outbound_messages', postgresql_where=sa.text('provider_message_id IS NOT NULL'))
    op.drop_index('ix_outbound_messages_due', table_name='outbound_messages', postgresql_where=sa.text("state = 'queued'"))
    op.drop_table('outbound_messages')
    op.drop_index('ix_inbound_messages_due', table_name='inbound_messages', postgresql_where=sa.text("state = 'received'"))
    op.drop_index('ix_inbound_messages_channel_id_received_at', table_name='inbound_messages')
    op.drop_table('inbound_messages')
    op.drop_table('conversations')
    op.drop_index('uq_channels_workspace_id_name', table_name='channels')
    op.drop_index('uq_channels_id', table_name='channels')
    op.drop_table('channels')
    for enum_type in ('delivery_state', 'inbound_state', 'channel_kind'):
        sa.Enum(name=enum_type).drop(op.get_bind(), checkfirst=True)
