"""saved ticket views, reply times of each side, indexes for list filters

Revision ID: 7c41d9e2b5a8
Revises: 7c41d2e9b3a5
Create Date: 2026-12-12 16:20:00.000000+00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7c41d9e2b5a8"
down_revision: str | None = "7c41d2e9b3a5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNRESOLVED = "deleted_at IS NULL AND status_kind IN ('new', 'open', 'pending', 'on_hold')"
_COLUMNS = ["number", "subject", "requester_id", "status_id", "priority", "assignee_id", "updated_at"]
# The built-in views as they are at this revision (key, Vietnamese name, English name, filters, sort).
_BUILT_IN = [
    ("mine", "Phiếu của tôi", "My tickets", {"assignee": "me", "status_kind": "new,open,pending,on_hold"}, "-updated_at"),
    ("unassigned", "Phiếu chưa phân công", "Unassigned tickets", {"assignee": "none", "status_kind": "new,open,pending,on_hold"}, "created_at"),
    ("my_groups", "Phiếu của nhóm tôi", "My groups' tickets", {"group": "mine", "status_kind": "new,open,pending,on_hold"}, "-updated_at"),
    ("all_open", "Tất cả phiếu chưa giải quyết", "All unresolved tickets", {"status_kind": "new,open,pending,on_hold"}, "-updated_at"),
    ("recently_solved", "Đã giải quyết trong 7 ngày", "Solved in the last 7 days", {"status_kind": "solved,closed", "solved_within_days": "7"}, "-updated_at"),
    ("sla_breached", "Quá hạn SLA", "SLA breached", {"sla_breached": "true", "status_kind": "new,open,pending,on_hold"}, "sla_due_at"),
]


def upgrade() -> None:
    # The last public reply of each side; the existing tickets' from their comments.
    op.add_column("tickets", sa.Column("last_customer_reply_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tickets", sa.Column("last_agent_reply_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        """
        UPDATE tickets SET last_customer_reply_at = replies.customer, last_agent_reply_at = replies.agent
        FROM (
            SELECT workspace_id, ticket_id,
                   max(created_at) FILTER (WHERE author_type = 'contact') AS customer,
                   max(created_at) FILTER (WHERE author_type = 'agent') AS agent
            FROM comments WHERE public GROUP BY workspace_id, ticket_id
        ) AS replies
        WHERE tickets.workspace_id = replies.workspace_id AND tickets.id = replies.ticket_id
        """
    )
    # Equality filters on custom fields, and the lists the built-in views show and count.
    op.create_index(
        "ix_tickets_custom_fields", "tickets", ["custom_fields"], unique=False,
        postgresql_using="gin", postgresql_ops={"custom_fields": "jsonb_path_ops"},
    )  # fmt: skip
    op.create_index(
        "ix_tickets_unresolved", "tickets", ["workspace_id", "updated_at", "id"], unique=False,
        postgresql_where=sa.text(_UNRESOLVED),
    )  # fmt: skip
    op.create_index(
        "ix_tickets_unresolved_group_id", "tickets", ["workspace_id", "group_id"], unique=False,
        postgresql_where=sa.text(_UNRESOLVED),
    )  # fmt: skip
    op.create_index(
        "ix_tickets_unassigned", "tickets", ["workspace_id", "created_at", "id"], unique=False,
        postgresql_where=sa.text(f"assignee_id IS NULL AND {_UNRESOLVED}"),
    )  # fmt: skip
    op.create_index(
        "ix_tickets_sla_breached", "tickets", ["workspace_id", "sla_due_at", "id"], unique=False,
        postgresql_where=sa.text(f"sla_breached AND {_UNRESOLVED}"),
    )  # fmt: skip
    op.create_index(
        "ix_tickets_workspace_id_solved_at", "tickets", ["workspace_id", "solved_at"], unique=False,
        postgresql_where=sa.text("solved_at IS NOT NULL"),
    )  # fmt: skip

    visibility = postgresql.ENUM("personal", "groups", "everyone", name="view_visibility", create_type=False)
    visibility.create(op.get_bind(), checkfirst=False)
    op.create_table(
        "ticket_views",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("filters", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("sort", sa.String(length=20), nullable=False),
        sa.Column("columns", postgresql.ARRAY(sa.String(length=64)), server_default="{}", nullable=False),
        sa.Column("visibility", visibility, nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("group_ids", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("built_in", sa.String(length=40), nullable=True),
        sa.Column("hidden", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "owner_id"], ["agents.workspace_id", "agents.id"],
            name=op.f("fk_ticket_views_workspace_id_owner_id"), ondelete="CASCADE",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_ticket_views_workspace_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_ticket_views")),
    )
    op.create_index("ix_ticket_views_workspace_id_position", "ticket_views", ["workspace_id", "position"])
    op.create_index("ix_ticket_views_workspace_id_owner_id", "ticket_views", ["workspace_id", "owner_id"])
    op.create_index(
        "uq_ticket_views_workspace_id_built_in", "ticket_views", ["workspace_id", "built_in"], unique=True,
        postgresql_where=sa.text("built_in IS NOT NULL"),
    )  # fmt: skip
    # Every existing workspace gets the built-in views, named in its locale.
    for position, (key, vietnamese, english, filters, sort) in enumerate(_BUILT_IN):
        op.get_bind().execute(
            sa.text(
                """
                INSERT INTO ticket_views
                    (workspace_id, id, name, filters, sort, columns, visibility, position, built_in)
                SELECT id, gen_random_uuid(), CASE WHEN locale = 'en' THEN :english ELSE :vietnamese END,
                       CAST(:filters AS jsonb), :sort, CAST(:columns AS varchar(64)[]), 'everyone', :position, :key
                FROM workspaces
                """
            ),
            {
                "english": english,
                "vietnamese": vietnamese,
                "filters": json.dumps(filters),
                "sort": sort,
                "columns": _COLUMNS,
                "position": position * 10,
                "key": key,
            },
        )


def downgrade() -> None:
    op.drop_index("uq_ticket_views_workspace_id_built_in", table_name="ticket_views")
    op.drop_index("ix_ticket_views_workspace_id_owner_id", table_name="ticket_views")
    op.drop_index("ix_ticket_views_workspace_id_position", table_name="ticket_views")
    op.drop_table("ticket_views")
    postgresql.ENUM(name="view_visibility").drop(op.get_bind(), checkfirst=False)
    op.drop_index("ix_tickets_workspace_id_solved_at", table_name="tickets")
    op.drop_index("ix_tickets_sla_breached", table_name="tickets")
    op.drop_index("ix_tickets_unassigned", table_name="tickets")
    op.drop_index("ix_tickets_unresolved_group_id", table_name="tickets")
    op.drop_index("ix_tickets_unresolved", table_name="tickets")
    op.drop_index("ix_tickets_custom_fields", table_name="tickets", postgresql_using="gin")
    op.drop_column("tickets", "last_agent_reply_at")
    op.drop_column("tickets", "last_customer_reply_at")
