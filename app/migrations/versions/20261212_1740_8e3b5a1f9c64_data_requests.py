"""data requests: a customer's export and erasure; retention per workspace

Revision ID: 8e3b5a1f9c64
Revises: 9b4e2f6a1c57
Create Date: 2026-12-12 17:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "8e3b5a1f9c64"
down_revision: str | None = "9b4e2f6a1c57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tickets", sa.Column("anonymized_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("workspaces", sa.Column("inbound_retention_days", sa.Integer(), nullable=True))
    op.add_column("workspaces", sa.Column("closed_ticket_anonymize_months", sa.Integer(), nullable=True))
    op.create_table(
        "data_requests",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Enum("export", "erase", name="data_request_kind"), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "running", "completed", "expired", name="data_request_status"),
            server_default="pending",
            nullable=False,
        ),
        sa.Column(
            "requested_by_type", postgresql.ENUM(name="actor_type", create_type=False), nullable=False
        ),
        sa.Column("requested_by_id", sa.Uuid(), nullable=False),
        sa.Column("steps_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("step_cursor", sa.Uuid(), nullable=True),
        sa.Column("rows_processed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "files_to_delete", postgresql.ARRAY(sa.String(length=64)), server_default="{}", nullable=False
        ),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("storage_key", sa.String(length=64), nullable=True),
        sa.Column("archive_size", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_data_requests_workspace_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_data_requests")),
    )
    op.create_index(
        "ix_data_requests_workspace_id_contact_id_id", "data_requests", ["workspace_id", "contact_id", "id"]
    )
    op.create_index(
        "uq_data_requests_workspace_id_contact_id_erase",
        "data_requests",
        ["workspace_id", "contact_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'erase'"),
    )
    op.create_index(
        "ix_data_requests_due",
        "data_requests",
        ["leased_until"],
        postgresql_where=sa.text("status IN ('pending', 'running')"),
    )
    op.create_index(
        "ix_data_requests_expires_at",
        "data_requests",
        ["expires_at"],
        postgresql_where=sa.text("storage_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_data_requests_expires_at", table_name="data_requests")
    op.drop_index("ix_data_requests_due", table_name="data_requests")
    op.drop_index("uq_data_requests_workspace_id_contact_id_erase", table_name="data_requests")
    op.drop_index("ix_data_requests_workspace_id_contact_id_id", table_name="data_requests")
    op.drop_table("data_requests")
    sa.Enum(name="data_request_status").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="data_request_kind").drop(op.get_bind(), checkfirst=True)
    op.drop_column("workspaces", "closed_ticket_anonymize_months")
    op.drop_column("workspaces", "inbound_retention_days")
    op.drop_column("tickets", "anonymized_at")
    op.drop_column("contacts", "erased_at")
