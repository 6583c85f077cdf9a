"""tenant keys

Revision ID: 3a0568af03f6
Revises: 1f204254fb89
Create Date: 2026-12-12 15:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3a0568af03f6"
down_revision: str | None = "1f204254fb89"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Looked up across workspaces (the workspace is not known yet), and unique only by construction: ids
# the service makes (UUIDv7) and the SHA-256 of a random API key. A unique index without workspace_id
# cannot be kept once tables are distributed by workspace (docs/distribution.md); a plain index serves
# the same lookups, and no foreign key or ON CONFLICT relies on these.
GLOBAL_LOOKUPS = [
    ("uq_channels_id", "ix_channels_id", "channels", "id"),
    ("uq_agent_token_secrets_id", "ix_agent_token_secrets_id", "agent_token_secrets", "id"),
    ("ix_api_keys_key_hash", "ix_api_keys_key_hash", "api_keys", "key_hash"),
]


def upgrade() -> None:
    # Small tables (a few rows per workspace): the indexes are rebuilt within the lock timeout.
    for unique_name, plain_name, table, column in GLOBAL_LOOKUPS:
        op.drop_index(unique_name, table_name=table)
        op.create_index(plain_name, table, [column])


def downgrade() -> None:
    for unique_name, plain_name, table, column in GLOBAL_LOOKUPS:
        op.drop_index(plain_name, table_name=table)
        op.create_index(unique_name, table, [column], unique=True)
