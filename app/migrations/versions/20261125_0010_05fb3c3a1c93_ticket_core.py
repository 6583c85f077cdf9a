"""ticket core

Revision ID: 05fb3c3a1c93
Revises: 
Create Date: 2026-11-25 00:10:12.902963+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '05fb3c3a1c93'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table('workspaces',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workspaces'))
    )
    op.create_table('agent_token_secrets',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('secret_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_agent_token_secrets_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_agent_token_secrets'))
    )
    op.create_index('uq_agent_token_secrets_id', 'agent_token_secrets', ['id'], unique=True)
    op.create_index('uq_agent_token_secrets_workspace_id_current', 'agent_token_secrets', ['workspace_id'], unique=True, postgresql_where=sa.text('expires_at IS NULL'))
    op.create_table('agents',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('role', sa.Enum('viewer', 'agent', 'admin', name='role'), nullable=False),
    sa.Column('availability', sa.Enum('online', 'away', 'offline', name='availability'), server_default='offline', nullable=False),
    sa.Column('capacity', sa.Integer(), server_default='20', nullable=False),
    sa.Column('skills', postgresql.ARRAY(sa.String(length=100)), server_default='{}', nullable=False),
    sa.Column('ticket_access', sa.Enum('all', 'restricted', name='ticket_access'), server_default='all', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('search_text', sa.Text(), server_default='', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_agents_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_agents'))
    )
    op.create_index('uq_agents_workspace_id_email', 'agents', ['workspace_id', sa.literal_column('lower(email)')], unique=True, postgresql_where=sa.text('email IS NOT NULL'))
    op.create_index('uq_agents_workspace_id_external_id', 'agents', ['workspace_id', 'external_id'], unique=True)
    op.create_table('api_keys',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.Enum('viewer', 'agent', 'admin', name='role'), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('key_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_api_keys_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_api_keys'))
    )
    op.create_index('ix_api_keys_key_hash', 'api_keys', ['key_hash'], unique=True)
    op.create_table('categories',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=True),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('search_text', sa.Text(), server_default='', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'parent_id'], ['categories.workspace_id', 'categories.id'], name=op.f('fk_categories_workspace_id_parent_id')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_categories_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_categories'))
    )
    op.create_index('ix_categories_workspace_id_parent_id', 'categories', ['workspace_id', 'parent_id'], unique=False)
    op.create_table('custom_field_definitions',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('entity', sa.Enum('ticket', 'contact', name='custom_field_entity'), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('type', sa.Enum('text', 'textarea', 'integer', 'decimal', 'date', 'datetime', 'checkbox', 'dropdown', 'multiselect', 'regex', name='custom_field_type'), nullable=False),
    sa.Column('options', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('pattern', sa.String(length=500), nullable=True),
    sa.Column('required', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_custom_field_definitions_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_custom_field_definitions')),
    sa.UniqueConstraint('workspace_id', 'entity', 'key', name=op.f('uq_custom_field_definitions_workspace_id_entity_key'))
    )
    op.create_table('groups',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=True),
    sa.Column('search_text', sa.Text(), server_default='', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_groups_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_groups'))
    )
    op.create_index('uq_groups_workspace_id_name', 'groups', ['workspace_id', sa.literal_column('lower(name)')], unique=True)
    op.create_table('idempotency_keys',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_headers', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('response_body', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_idempotency_keys_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_table('organizations',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('domains', postgresql.ARRAY(sa.String(length=253)), server_default='{}', nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('search_text', sa.Text(), server_default='', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_organizations_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_organizations'))
    )
    op.create_index('ix_organizations_domains', 'organizations', ['domains'], unique=False, postgresql_using='gin')
    op.create_index('ix_organizations_search_text', 'organizations', ['search_text'], unique=False, postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.create_index('uq_organizations_workspace_id_name', 'organizations', ['workspace_id', sa.literal_column('lower(name)')], unique=True)
    op.create_table('ticket_counters',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('last_number', sa.BigInteger(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_ticket_counters_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', name=op.f('pk_ticket_counters'))
    )
    op.create_table('ticket_statuses',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.Enum('new', 'open', 'pending', 'on_hold', 'solved', 'closed', name='status_kind'), nullable=False),
    sa.Column('color', sa.String(length=7), server_default='#9e9e9e', nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('is_default', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_ticket_statuses_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_ticket_statuses'))
    )
    op.create_index('uq_ticket_statuses_workspace_id_kind_default', 'ticket_statuses', ['workspace_id', 'kind'], unique=True, postgresql_where=sa.text('is_default'))
    op.create_index('uq_ticket_statuses_workspace_id_name', 'ticket_statuses', ['workspace_id', sa.literal_column('lower(name)')], unique=True)
    op.create_table('category_watchers',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('category_id', sa.Uuid(), nullable=False),
    sa.Column('agent_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'agent_id'], ['agents.workspace_id', 'agents.id'], name=op.f('fk_category_watchers_workspace_id_agent_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id', 'category_id'], ['categories.workspace_id', 'categories.id'], name=op.f('fk_category_watchers_workspace_id_category_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'category_id', 'agent_id', name=op.f('pk_category_watchers'))
    )
    op.create_index('ix_category_watchers_workspace_id_agent_id', 'category_watchers', ['workspace_id', 'agent_id'], unique=False)
    op.create_table('contacts',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('vip', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=True),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('custom_fields', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('search_text', sa.Text(), server_default='', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'organization_id'], ['organizations.workspace_id', 'organizations.id'], name=op.f('fk_contacts_workspace_id_organization_id')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_contacts_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_contacts'))
    )
    op.create_index('ix_contacts_search_text', 'contacts', ['search_text'], unique=False, postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.create_index('ix_contacts_workspace_id_organization_id', 'contacts', ['workspace_id', 'organization_id'], unique=False)
    op.create_index('uq_contacts_workspace_id_external_id', 'contacts', ['workspace_id', 'external_id'], unique=True, postgresql_where=sa.text('external_id IS NOT NULL'))
    op.create_table('group_members',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('agent_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'agent_id'], ['agents.workspace_id', 'agents.id'], name=op.f('fk_group_members_workspace_id_agent_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id', 'group_id'], ['groups.workspace_id', 'groups.id'], name=op.f('fk_group_members_workspace_id_group_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'group_id', 'agent_id', name=op.f('pk_group_members'))
    )
    op.create_index('ix_group_members_workspace_id_agent_id', 'group_members', ['workspace_id', 'agent_id'], unique=False)
    op.create_table('contact_identities',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('contact_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Enum('email', 'phone', 'messenger', 'zalo', 'chat', 'external', name='identity_kind'), nullable=False),
    sa.Column('value', sa.String(length=320), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'contact_id'], ['contacts.workspace_id', 'contacts.id'], name=op.f('fk_contact_identities_workspace_id_contact_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_contact_identities_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_contact_identities'))
    )
    op.create_index('ix_contact_identities_workspace_id_contact_id', 'contact_identities', ['workspace_id', 'contact_id'], unique=False)
    op.create_index('uq_contact_identities_workspace_id_kind_value', 'contact_identities', ['workspace_id', 'kind', 'value'], unique=True)
    op.create_table('tickets',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.BigInteger(), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('status_id', sa.Uuid(), nullable=False),
    sa.Column('status_kind', sa.Enum('new', 'open', 'pending', 'on_hold', 'solved', 'closed', name='status_kind'), nullable=False),
    sa.Column('priority', sa.Enum('low', 'normal', 'high', 'urgent', name='ticket_priority'), nullable=False),
    sa.Column('type', sa.Enum('question', 'incident', 'problem', 'task', name='ticket_type'), nullable=True),
    sa.Column('category_id', sa.Uuid(), nullable=True),
    sa.Column('group_id', sa.Uuid(), nullable=True),
    sa.Column('assignee_id', sa.Uuid(), nullable=True),
    sa.Column('requester_id', sa.Uuid(), nullable=True),
    sa.Column('followers', postgresql.ARRAY(sa.Uuid()), server_default='{}', nullable=False),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=100)), server_default='{}', nullable=False),
    sa.Column('custom_fields', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('channel', sa.Enum('api', 'web', 'chat', 'email', 'messenger', 'zalo', 'phone', name='channel'), nullable=False),
    sa.Column('external_refs', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('internal', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('solved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('search_text', sa.Text(), server_default='', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'assignee_id'], ['agents.workspace_id', 'agents.id'], name=op.f('fk_tickets_workspace_id_assignee_id')),
    sa.ForeignKeyConstraint(['workspace_id', 'category_id'], ['categories.workspace_id', 'categories.id'], name=op.f('fk_tickets_workspace_id_category_id')),
    sa.ForeignKeyConstraint(['workspace_id', 'group_id'], ['groups.workspace_id', 'groups.id'], name=op.f('fk_tickets_workspace_id_group_id')),
    sa.ForeignKeyConstraint(['workspace_id', 'parent_id'], ['tickets.workspace_id', 'tickets.id'], name=op.f('fk_tickets_workspace_id_parent_id')),
    sa.ForeignKeyConstraint(['workspace_id', 'requester_id'], ['contacts.workspace_id', 'contacts.id'], name=op.f('fk_tickets_workspace_id_requester_id')),
    sa.ForeignKeyConstraint(['workspace_id', 'status_id'], ['ticket_statuses.workspace_id', 'ticket_statuses.id'], name=op.f('fk_tickets_workspace_id_status_id')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_tickets_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('workspace_id', 'number', name=op.f('uq_tickets_workspace_id_number'))
    )
    op.create_index('ix_tickets_external_refs', 'tickets', ['external_refs'], unique=False, postgresql_using='gin', postgresql_ops={'external_refs': 'jsonb_path_ops'})
    op.create_index('ix_tickets_followers', 'tickets', ['followers'], unique=False, postgresql_using='gin')
    op.create_index('ix_tickets_search_text', 'tickets', ['search_text'], unique=False, postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.create_index('ix_tickets_tags', 'tickets', ['tags'], unique=False, postgresql_using='gin')
    op.create_index('ix_tickets_workspace_id_assignee_id', 'tickets', ['workspace_id', 'assignee_id'], unique=False)
    op.create_index('ix_tickets_workspace_id_category_id', 'tickets', ['workspace_id', 'category_id'], unique=False)
    op.create_index('ix_tickets_workspace_id_created_at_id', 'tickets', ['workspace_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_tickets_workspace_id_due_at_id', 'tickets', ['workspace_id', 'due_at', 'id'], unique=False)
    op.create_index('ix_tickets_workspace_id_group_id', 'tickets', ['workspace_id', 'group_id'], unique=False)
    op.create_index('ix_tickets_workspace_id_parent_id', 'tickets', ['workspace_id', 'parent_id'], unique=False, postgresql_where=sa.text('parent_id IS NOT NULL'))
    op.create_index('ix_tickets_workspace_id_priority_id', 'tickets', ['workspace_id', 'priority', 'id'], unique=False)
    op.create_index('ix_tickets_workspace_id_requester_id', 'tickets', ['workspace_id', 'requester_id'], unique=False)
    op.create_index('ix_tickets_workspace_id_status_kind', 'tickets', ['workspace_id', 'status_kind'], unique=False)
    op.create_index('ix_tickets_workspace_id_updated_at_id', 'tickets', ['workspace_id', 'updated_at', 'id'], unique=False)
    op.create_table('ticket_history',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=False),
    sa.Column('change_id', sa.Uuid(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_type', sa.Enum('agent', 'api_key', 'contact', 'system', name='actor_type'), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('field', sa.String(length=100), nullable=False),
    sa.Column('old_value', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('new_value', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id', 'ticket_id'], ['tickets.workspace_id', 'tickets.id'], name=op.f('fk_ticket_history_workspace_id_ticket_id'), ondelete='CASCADE', initially='DEFERRED', deferrable=True),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_ticket_history_workspace_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id', 'id', name=op.f('pk_ticket_history'))
    )
    op.create_index('ix_ticket_history_workspace_id_ticket_id_id', 'ticket_history', ['workspace_id', 'ticket_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ticket_history_workspace_id_ticket_id_id', table_name='ticket_history')
    op.drop_table('ticket_history')
    op.drop_index('ix_tickets_workspace_id_updated_at_id', table_name='tickets')
    op.drop_index('ix_tickets_workspace_id_status_kind', table_name='tickets')
    op.drop_index('ix_tickets_workspace_id_requester_id', table_name='tickets')
    op.drop_index('ix_tickets_workspace_id_priority_id', table_name='tickets')
    op.drop_index('ix_tickets_workspace_id_parent_id', table_name='tickets', postgresql_where=sa.text('parent_id IS NOT NULL'))
    op.drop_index('ix_tickets_workspace_id_group_id', table_name='tickets')
    op.drop_index('ix_tickets_workspace_id_due_at_id', table_name='tickets')
    op.drop_index('ix_tickets_workspace_id_created_at_id', table_name='tickets')
    op.drop_index('ix_tickets_workspace_id_category_id', table_name='tickets')
    op.drop_index('ix_tickets_workspace_id_assignee_id', table_name='tickets')
    op.drop_index('ix_tickets_tags', table_name='tickets', postgresql_using='gin')
    op.drop_index('ix_tickets_search_text', table_name='tickets', postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.drop_index('ix_tickets_followers', table_name='tickets', postgresql_using='gin')
    op.drop_index('ix_tickets_external_refs', table_name='tickets', postgresql_using='gin', postgresql_ops={'external_refs': 'jsonb_path_ops'})
    op.drop_table('tickets')
    op.drop_index('uq_contact_identities_workspace_id_kind_value', table_name='contact_identities')
    op.drop_index('ix_contact_identities_workspace_id_contact_id', table_name='contact_identities')
    op.drop_table('contact_identities')
    op.drop_index('ix_group_members_workspace_id_agent_id', table_name='group_members')
    op.drop_table('group_members')
    op.drop_index('uq_contacts_workspace_id_external_id', table_name='contacts', postgresql_where=sa.text('external_id IS NOT NULL'))
    op.drop_index('ix_contacts_workspace_id_organization_id', table_name='contacts')
    op.drop_index('ix_contacts_search_text', table_name='contacts', postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.drop_table('contacts')
    op.drop_index('ix_category_watchers_workspace_id_agent_id', table_name='category_watchers')
    op.drop_table('category_watchers')
    op.drop_index('uq_ticket_statuses_workspace_id_name', table_name='ticket_statuses')
    op.drop_index('uq_ticket_statuses_workspace_id_kind_default', table_name='ticket_statuses', postgresql_where=sa.text('is_default'))
    op.drop_table('ticket_statuses')
    op.drop_table('ticket_counters')
    op.drop_index('uq_organizations_workspace_id_name', table_name='organizations')
    op.drop_index('ix_organizations_search_text', table_name='organizations', postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.drop_index('ix_organizations_domains', table_name='organizations', postgresql_using='gin')
    op.drop_table('organizations')
    op.drop_table('idempotency_keys')
    op.drop_index('uq_groups_workspace_id_name', table_name='groups')
    op.drop_table('groups')
    op.drop_table('custom_field_definitions')
    op.drop_index('ix_categories_workspace_id_parent_id', table_name='categories')
    op.drop_table('categories')
    op.drop_index('ix_api_keys_key_hash', table_name='api_keys')
    op.drop_table('api_keys')
    op.drop_index('uq_agents_workspace_id_external_id', table_name='agents')
    op.drop_index('uq_agents_workspace_id_email', table_name='agents', postgresql_where=sa.text('email IS NOT NULL'))
    op.drop_table('agents')
    op.drop_index('uq_agent_token_secrets_workspace_id_current', table_name='agent_token_secrets', postgresql_where=sa.text('expires_at IS NULL'))
    op.drop_index('uq_agent_token_secrets_id', table_name='agent_token_secrets')
    op.drop_table('agent_token_secrets')
    op.drop_table('workspaces')
    sa.Enum(name='actor_type').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='availability').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='channel').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='custom_field_entity').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='custom_field_type').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='identity_kind').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='role').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='status_kind').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='ticket_access').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='ticket_priority').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='ticket_type').drop(op.get_bind(), checkfirst=True)
