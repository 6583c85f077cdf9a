"""the tickets' report index holds the status too, so that counting a list by status reads the index alone

Revision ID: 5b8e1c3f9a24
Revises: 2d7a9c4e6b13
Create Date: 2026-12-12 18:10:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5b8e1c3f9a24"
down_revision: str | None = "2d7a9c4e6b13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORTED_COLUMNS = ["deleted_at", "status_kind", "channel", "priority", "group_id", "assignee_id", "category_id"]
REPORTED_METRICS = [
    "first_reply_seconds", "first_reply_business_seconds", "resolution_seconds", "resolution_business_seconds",
    "next_reply_count", "next_reply_seconds", "next_reply_business_seconds", "reopens",
]


def _reports_index(include: list[str]) -> None:
    op.drop_index("ix_tickets_reports", table_name="tickets")
    op.create_index("ix_tickets_reports", "tickets", ["workspace_id", "created_at"], postgresql_include=include)


def upgrade() -> None:
    _reports_index([*REPORTED_COLUMNS, "status_id", *REPORTED_METRICS])


def downgrade() -> None:
    _reports_index([*REPORTED_COLUMNS, *REPORTED_METRICS])
