"""idempotency keys per credential

Revision ID: 3b9e2f4c7a10
Revises: 0586e9d62d68
Create Date: 2026-12-07 07:00:00+00:00

Keys were stored per workspace, so another credential of the workspace could replay a response it
was not allowed to see. They now belong to the credential that sent them. Stored keys cannot be
given an owner after the fact and are dropped: they only make retries of the last day's requests
safe, and an unowned one must never replay.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b9e2f4c7a10"
down_revision: str | None = "0586e9d62d68"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM idempotency_keys")
    op.drop_constraint("pk_idempotency_keys", "idempotency_keys", type_="primary")
    op.drop_column("idempotency_keys", "locked_until")
    op.add_column("idempotency_keys", sa.Column("credential_id", sa.Uuid(), nullable=False))
    op.create_primary_key("pk_idempotency_keys", "idempotency_keys", ["workspace_id", "credential_id", "key"])
    for column in ("response_status", "response_headers", "response_body"):
        op.alter_column("idempotency_keys", column, nullable=False)
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys")
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    for column in ("response_status", "response_headers", "response_body"):
        op.alter_column("idempotency_keys", column, nullable=True)
    op.drop_constraint("pk_idempotency_keys", "idempotency_keys", type_="primary")
    op.drop_column("idempotency_keys", "credential_id")
    op.add_column(
        "idempotency_keys", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_primary_key("pk_idempotency_keys", "idempotency_keys", ["workspace_id", "key"])
