"""webhooks

Revision ID: 89cab92b91a0
Revises: 802905fee097
Create Date: 2026-11-25 00:34:40.095834+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Workers LISTEN on these channels; a notification is sent when the writing transaction commits.
NOTIFY_FUNCTION = """
CREATE FUNCTION helpdesk_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END
$$
"""
revision: str = '89cab92b91a0'
down_revision: str | None = '802905fee097'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('dispatch_cursor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_cursor'))
    )
    op.create_table('webhooks',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('event_types', postgresql.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('disabled_reason', sa.String(length=500), nullable=True),
    sa.Column('secret_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('previous_secret_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_webhooks_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_webhooks'))
    )
    op.create_table('webhook_deliveries',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('webhook_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'succeeded', 'failed', name='delivery_status'), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'event_id'], ['events.workspace_id', 'events.id'], name=op.f('fk_webhook_deliveries_workspace_id_event_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id', 'webhook_id'], ['webhooks.workspace_id', 'webhooks.id'], name=op.f('fk_webhook_deliveries_workspace_id_webhook_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_webhook_deliveries_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('workspace_id', 'webhook_id', 'event_id', name=op.f('uq_webhook_deliveries_workspace_id_webhook_id_event_id'))
    )
    op.create_index('ix_webhook_deliveries_due', 'webhook_deliveries', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_webhook_deliveries_workspace_id_webhook_id_id', 'webhook_deliveries', ['workspace_id', 'webhook_id', 'id'], unique=False)
    op.create_table('webhook_attempts',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('delivery_id', sa.Uuid(), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'delivery_id'], ['webhook_deliveries.workspace_id', 'webhook_deliveries.id'], name=op.f('fk_webhook_attempts_workspace_id_delivery_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_webhook_attempts_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_webhook_attempts'))
    )
    op.create_index('ix_webhook_attempts_attempted_at', 'webhook_attempts', ['attempted_at'], unique=False)
    op.create_index('ix_webhook_attempts_workspace_id_delivery_id', 'webhook_attempts', ['workspace_id', 'delivery_id'], unique=False)
    op.create_index('ix_events_transaction_id_id', 'events', ['transaction_id', 'id'], unique=False)
    op.execute("INSERT INTO dispatch_cursor (id, transaction_id) VALUES (1, 0)")
    op.execute(NOTIFY_FUNCTION)
    op.execute(
        "CREATE TRIGGER events_notify AFTER INSERT ON events "
        "FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_notify('helpdesk_events')"
    )
    op.execute(
        "CREATE TRIGGER webhook_deliveries_notify AFTER INSERT OR UPDATE OF next_attempt_at ON webhook_deliveries "
        "FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_notify('helpdesk_deliveries')"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER events_notify ON events")
    op.execute("DROP FUNCTION helpdesk_notify() CASCADE")
    op.drop_index('ix_events_transaction_id_id', table_name='events')
    op.drop_index('ix_webhook_attempts_workspace_id_delivery_id', table_name='webhook_attempts')
    op.drop_index('ix_webhook_attempts_attempted_at', table_name='webhook_attempts')
    op.drop_table('webhook_attempts')
    op.drop_index('ix_webhook_deliveries_workspace_id_webhook_id_id', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_due', table_name='webhook_deliveries', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('webhook_deliveries')
    op.drop_table('webhooks')
    op.drop_table('dispatch_cursor')
    sa.Enum(name='delivery_status').drop(op.get_bind(), checkfirst=True)
