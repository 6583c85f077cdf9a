"""channel claims table

Revision ID: 7c41d2e9b3a5
Revises: 3a0568af03f6
Create Date: 2026-12-12 15:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c41d2e9b3a5"
down_revision: str | None = "3a0568af03f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The unique indexes that kept a claim one channel's across workspaces, by the columns they cover.
CLAIM_INDEXES = [
    ("uq_channels_claimed_address", ["claimed_address"]),
    ("uq_channels_kind_claimed_account_id", ["kind", "claimed_account_id"]),
    ("uq_channels_kind_claimed_app_id", ["kind", "claimed_app_id"]),
]
CLAIM_COLUMNS = ["claimed_address", "claimed_account_id", "claimed_app_id"]


def upgrade() -> None:
    op.create_table(
        "channel_claims",
        sa.Column("claim", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("claim", "value", name=op.f("pk_channel_claims")),
    )
    op.create_index(
        "ix_channel_claims_workspace_id_channel_id", "channel_claims", ["workspace_id", "channel_id"]
    )
    # Unique under the indexes dropped below, so every claim held today fits the new key.
    for column in CLAIM_COLUMNS:
        op.execute(
            "INSERT INTO channel_claims (claim, value, workspace_id, channel_id) "
            f"SELECT CAST(kind AS text) || ':' || '{column}', {column}, workspace_id, id FROM channels "
            f"WHERE {column} IS NOT NULL"
        )
    for name, _ in CLAIM_INDEXES:
        op.drop_index(name, table_name="channels")


def downgrade() -> None:
    for name, columns in CLAIM_INDEXES:
        op.create_index(name, "channels", columns, unique=True)
    op.drop_index("ix_channel_claims_workspace_id_channel_id", table_name="channel_claims")
    op.drop_table("channel_claims")
