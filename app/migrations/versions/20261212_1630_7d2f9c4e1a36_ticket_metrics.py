"""ticket metrics

Revision ID: 7d2f9c4e1a36
Revises: 7c41d9e2b5a8
Create Date: 2026-12-12 16:30:00.000000+00:00

The metrics of existing tickets are worked out from their rows, their comments and their history, in
calendar time; their business times stay null (unknown), and so does any business total they add to.
Reply times follow the replies as they are now (a comment merged in from another ticket counts where
it is).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7d2f9c4e1a36"
down_revision: str | None = "7c41d9e2b5a8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in app/models/ticket.py when this revision was written.
REPORTED_COLUMNS = ("deleted_at", "status_kind", "channel", "priority", "group_id", "assignee_id", "category_id")
REPORTED_METRICS = (
    "first_reply_seconds", "first_reply_business_seconds", "resolution_seconds", "resolution_business_seconds",
    "next_reply_count", "next_reply_seconds", "next_reply_business_seconds", "reopens",
)
UNRESOLVED = "deleted_at IS NULL AND status_kind IN ('new', 'open', 'pending', 'on_hold')"

COLUMNS = [
    ("status_kind_changed_at", sa.DateTime(timezone=True), None),
    ("awaiting_reply_since", sa.DateTime(timezone=True), None),
    ("first_reply_seconds", sa.Integer(), None),
    ("first_reply_business_seconds", sa.Integer(), None),
    ("next_reply_count", sa.Integer(), "0"),
    ("next_reply_seconds", sa.BigInteger(), "0"),
    ("next_reply_business_seconds", sa.BigInteger(), None),
    ("resolution_seconds", sa.Integer(), None),
    ("resolution_business_seconds", sa.Integer(), None),
    ("reopens", sa.Integer(), "0"),
    ("agent_replies", sa.Integer(), "0"),
    ("agent_wait_seconds", sa.BigInteger(), "0"),
    ("agent_wait_business_seconds", sa.BigInteger(), None),
    ("requester_wait_seconds", sa.BigInteger(), "0"),
    ("requester_wait_business_seconds", sa.BigInteger(), None),
]

# Each status period from the history (a status_id entry starts one; the next ends it), by kind.
STATUS_PERIODS = """
WITH changes AS (
    SELECT h.workspace_id, h.ticket_id, h.occurred_at, s.kind,
           lead(h.occurred_at) OVER w AS ended_at,
           lag(s.kind) OVER w AS previous_kind
    FROM ticket_history h
    JOIN ticket_statuses s ON s.workspace_id = h.workspace_id AND s.id = (h.new_value #>> '{}')::uuid
    WHERE h.field = 'status_id' AND jsonb_typeof(h.new_value) = 'string'
    WINDOW w AS (PARTITION BY h.workspace_id, h.ticket_id ORDER BY h.occurred_at, h.id)
), per_ticket AS (
    SELECT workspace_id, ticket_id,
           max(occurred_at) FILTER (WHERE kind IS DISTINCT FROM previous_kind) AS kind_changed_at,
           coalesce(sum(extract(epoch FROM ended_at - occurred_at))
                    FILTER (WHERE kind = 'pending'), 0) AS agent_wait,
           coalesce(sum(extract(epoch FROM ended_at - occurred_at))
                    FILTER (WHERE kind IN ('new', 'open', 'on_hold')), 0) AS requester_wait,
           count(*) FILTER (WHERE previous_kind IN ('solved', 'closed')
                            AND kind NOT IN ('solved', 'closed')) AS reopens
    FROM changes
    GROUP BY workspace_id, ticket_id
)
UPDATE tickets t
SET status_kind_changed_at = p.kind_changed_at,
    agent_wait_seconds = round(p.agent_wait),
    requester_wait_seconds = round(p.requester_wait),
    reopens = p.reopens
FROM per_ticket p
WHERE t.workspace_id = p.workspace_id AND t.id = p.ticket_id
"""

# Public replies and messages: an agent's reply answers the customer's messages since the agent's
# previous reply (counted from the first of them); the first reply answers the creation.
REPLIES = """
WITH numbered AS (
    SELECT workspace_id, ticket_id, created_at, author_type,
           count(*) FILTER (WHERE author_type = 'agent') OVER (
               PARTITION BY workspace_id, ticket_id ORDER BY created_at, id
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
           ) AS replies_before,
           count(*) FILTER (WHERE author_type = 'agent') OVER (PARTITION BY workspace_id, ticket_id)
               AS replies_total
    FROM comments
    WHERE public AND author_type IN ('agent', 'contact')
), answered AS (
    SELECT *, min(created_at) FILTER (WHERE author_type = 'contact') OVER (
               PARTITION BY workspace_id, ticket_id, replies_before
           ) AS asked_at
    FROM numbered
), per_ticket AS (
    SELECT workspace_id, ticket_id,
           count(*) FILTER (WHERE author_type = 'agent') AS agent_replies,
           count(*) FILTER (WHERE author_type = 'agent' AND replies_before > 0 AND asked_at IS NOT NULL)
               AS next_reply_count,
           coalesce(sum(extract(epoch FROM created_at - asked_at))
                    FILTER (WHERE author_type = 'agent' AND replies_before > 0), 0) AS next_reply_seconds,
           min(created_at) FILTER (WHERE author_type = 'contact' AND replies_before = replies_total)
               AS unanswered_since
    FROM answered
    GROUP BY workspace_id, ticket_id
)
UPDATE tickets t
SET agent_replies = p.agent_replies,
    next_reply_count = p.next_reply_count,
    next_reply_seconds = round(p.next_reply_seconds),
    awaiting_reply_since = CASE
        WHEN t.status_kind IN ('solved', 'closed') THEN NULL
        WHEN p.agent_replies = 0 THEN t.created_at
        ELSE p.unanswered_since
    END
FROM per_ticket p
WHERE t.workspace_id = p.workspace_id AND t.id = p.ticket_id
"""

FROM_THE_ROW = """
UPDATE tickets
SET status_kind_changed_at = coalesce(status_kind_changed_at, created_at),
    first_reply_seconds = round(extract(epoch FROM first_response_at - created_at)),
    resolution_seconds = round(extract(epoch FROM solved_at - created_at))
"""

# Tickets without a public reply or message wait for their first reply since their creation.
NEVER_ANSWERED = """
UPDATE tickets
SET awaiting_reply_since = created_at
WHERE agent_replies = 0 AND awaiting_reply_since IS NULL AND status_kind NOT IN ('solved', 'closed')
  AND first_response_at IS NULL
"""


def upgrade() -> None:
    for name, type_, default in COLUMNS:
        op.add_column(
            "tickets", sa.Column(name, type_, server_default=default, nullable=default is None)
        )
    op.execute(STATUS_PERIODS)
    op.execute(REPLIES)
    op.execute(FROM_THE_ROW)
    op.execute(NEVER_ANSWERED)
    # Built after the backfill, which would otherwise update them row by row.
    op.create_index(
        "ix_tickets_reports",
        "tickets",
        ["workspace_id", "created_at"],
        postgresql_include=[*REPORTED_COLUMNS, *REPORTED_METRICS],
    )
    op.create_index(
        "ix_tickets_unresolved_reports",
        "tickets",
        ["workspace_id", "created_at"],
        postgresql_include=list(REPORTED_COLUMNS[2:]),
        postgresql_where=sa.text(UNRESOLVED),
    )
    # The lists' index of solved tickets, made to cover what reports read of them too.
    op.drop_index("ix_tickets_workspace_id_solved_at", table_name="tickets")
    op.create_index(
        "ix_tickets_workspace_id_solved_at",
        "tickets",
        ["workspace_id", "solved_at"],
        postgresql_include=["deleted_at", *REPORTED_COLUMNS[2:]],
        postgresql_where=sa.text("solved_at IS NOT NULL"),
    )


def downgrade() -> None:
    for name in ("ix_tickets_workspace_id_solved_at", "ix_tickets_unresolved_reports", "ix_tickets_reports"):
        op.drop_index(name, table_name="tickets")
    op.create_index(
        "ix_tickets_workspace_id_solved_at",
        "tickets",
        ["workspace_id", "solved_at"],
        postgresql_where=sa.text("solved_at IS NOT NULL"),
    )
    for name, _, _ in reversed(COLUMNS):
        op.drop_column("tickets", name)
