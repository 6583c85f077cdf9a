"""customer portal: customer links, ratings, the contacts' access links and sessions

Revision ID: 8e3b6f1d4c27
Revises: 6c1d9e27a4b3
Create Date: 2026-12-12 17:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "8e3b6f1d4c27"
down_revision: str | None = "6c1d9e27a4b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_links",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_type", postgresql.ENUM(name="actor_type", create_type=False), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_customer_links_workspace_id"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "ticket_id"],
            ["tickets.workspace_id", "tickets.id"],
            name=op.f("fk_customer_links_workspace_id_ticket_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_customer_links")),
        sa.UniqueConstraint("workspace_id", "token_hash", name=op.f("uq_customer_links_workspace_id_token_hash")),
    )
    op.create_index(
        "ix_customer_links_workspace_id_ticket_id", "customer_links", ["workspace_id", "ticket_id"]
    )

    op.create_table(
        "ticket_ratings",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("solved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("good", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_ticket_ratings_workspace_id"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "ticket_id"],
            ["tickets.workspace_id", "tickets.id"],
            name=op.f("fk_ticket_ratings_workspace_id_ticket_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_ticket_ratings")),
        sa.UniqueConstraint(
            "workspace_id", "ticket_id", "solved_at", name=op.f("uq_ticket_ratings_workspace_id_ticket_id_solved_at")
        ),
    )
    op.create_index(
        "ix_ticket_ratings_workspace_id_created_at", "ticket_ratings", ["workspace_id", "created_at"]
    )

    portal_token_kind = sa.Enum("magic_link", "session", name="portal_token_kind")
    op.create_table(
        "portal_tokens",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("kind", portal_token_kind, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_portal_tokens_workspace_id"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "contact_id"],
            ["contacts.workspace_id", "contacts.id"],
            name=op.f("fk_portal_tokens_workspace_id_contact_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_portal_tokens")),
        sa.UniqueConstraint("workspace_id", "token_hash", name=op.f("uq_portal_tokens_workspace_id_token_hash")),
    )
    op.create_index("ix_portal_tokens_expires_at", "portal_tokens", ["expires_at"])
    op.create_index(
        "ix_portal_tokens_next_attempt_at",
        "portal_tokens",
        ["next_attempt_at"],
        postgresql_where=sa.text("next_attempt_at IS NOT NULL"),
    )

    # The latest rating, on the ticket for lists and filters. Nullable columns without a default: no
    # rewrite of the table.
    op.add_column("tickets", sa.Column("rating_score", sa.SmallInteger(), nullable=True))
    op.add_column("tickets", sa.Column("rating_good", sa.Boolean(), nullable=True))
    op.add_column("tickets", sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("tickets", "rated_at")
    op.drop_column("tickets", "rating_good")
    op.drop_column("tickets", "rating_score")
    op.drop_index("ix_portal_tokens_next_attempt_at", table_name="portal_tokens")
    op.drop_index("ix_portal_tokens_expires_at", table_name="portal_tokens")
    op.drop_table("portal_tokens")
    sa.Enum(name="portal_token_kind").drop(op.get_bind(), checkfirst=True)
    op.drop_index("ix_ticket_ratings_workspace_id_created_at", table_name="ticket_ratings")
    op.drop_table("ticket_ratings")
    op.drop_index("ix_customer_links_workspace_id_ticket_id", table_name="customer_links")
    op.drop_table("customer_links")
