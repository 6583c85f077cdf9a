"""locale and calls

Revision ID: 2ecbe04e78f4
Revises: 5e8c2a4f7d19
Create Date: 2026-12-12 11:00:00.000000+00:00
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2ecbe04e78f4"
down_revision: str | None = "5e8c2a4f7d19"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCALE = postgresql.ENUM("vi", "en", name="locale", create_type=False)
MISSED_CALL = "(call ->> 'answered') = 'false'"
# Where rules keep their conditions, which may name a ticket channel.
RULE_TABLES = ("triggers", "sla_policies")


def upgrade() -> None:
    # The language of the texts the service writes; every existing workspace's is Vietnamese.
    LOCALE.create(op.get_bind(), checkfirst=True)
    op.add_column("workspaces", sa.Column("locale", LOCALE, server_default="vi", nullable=False))
    # A call record's comment keeps the call as data; the tickets with a missed call are found by index.
    op.add_column("comments", sa.Column("call", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.create_index(
        "ix_comments_missed_calls",
        "comments",
        ["workspace_id", "ticket_id"],
        postgresql_where=sa.text(MISSED_CALL),
    )
    # Tickets and comments opened by calls are of the channel `call`, as rules name it.
    op.execute("ALTER TYPE channel RENAME VALUE 'phone' TO 'call'")
    _rename_channel_in_rules("phone", "call")


def downgrade() -> None:
    _rename_channel_in_rules("call", "phone")
    op.execute("ALTER TYPE channel RENAME VALUE 'call' TO 'phone'")
    op.drop_index("ix_comments_missed_calls", table_name="comments")
    op.drop_column("comments", "call")
    op.drop_column("workspaces", "locale")
    LOCALE.drop(op.get_bind(), checkfirst=True)


def _rename_channel_in_rules(old: str, new: str) -> None:
    """Conditions on the ticket's channel that name `old` name `new` instead."""
    connection = op.get_bind()
    for table in RULE_TABLES:
        rows = connection.execute(
            sa.text(f"SELECT workspace_id, id, conditions FROM {table} WHERE conditions::text LIKE :old"),  # noqa: S608
            {"old": f'%"{old}"%'},
        ).all()
        for workspace_id, rule_id, conditions in rows:
            renamed = {part: _renamed(items, old, new) for part, items in conditions.items()}
            if renamed != conditions:
                connection.execute(
                    sa.text(f"UPDATE {table} SET conditions = CAST(:conditions AS jsonb), version = version + 1 WHERE workspace_id = :w AND id = :id"),  # noqa: S608
                    {"conditions": json.dumps(renamed), "w": workspace_id, "id": rule_id},
                )


def _renamed(items: Any, old: str, new: str) -> Any:
    if not isinstance(items, list):
        return items
    renamed = []
    for condition in items:
        if isinstance(condition, dict) and condition.get("field") == "channel":
            value = condition.get("value")
            if isinstance(value, list):
                value = [new if item == old else item for item in value]
            elif value == old:
                value = new
            condition = {**condition, "value": value}
        renamed.append(condition)
    return renamed
