"""ticket number sequences

Revision ID: 7c1e4d2a9b35
Revises: 066de4833f7d
Create Date: 2026-12-08 09:00:00+00:00

Ticket numbers came from one counter row per workspace, locked by each creation until it committed:
the creations of a workspace ran one at a time. Each workspace now has a sequence of its own,
`ticket_numbers_<the workspace id in 32 hex digits>`, which hands out numbers without such a lock; a
creation that rolls back leaves a gap. The sequences continue from the counters.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c1e4d2a9b35"
down_revision: str | None = "066de4833f7d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The name the application gives a workspace's sequence (a copy, frozen with the revision).
SEQUENCE_NAME = "'ticket_numbers_' || replace(workspaces.id::text, '-', '')"


def upgrade() -> None:
    # A workspace without a counter row (or with 0) has handed out no number: its next one is #1.
    op.execute(f"""
        DO $$
        DECLARE
            workspace record;
        BEGIN
            FOR workspace IN
                SELECT {SEQUENCE_NAME} AS sequence_name,
                       coalesce(ticket_counters.last_number, 0) AS last_number
                FROM workspaces
                LEFT JOIN ticket_counters ON ticket_counters.workspace_id = workspaces.id
            LOOP
                EXECUTE format('CREATE SEQUENCE %I', workspace.sequence_name);
                PERFORM setval(
                    workspace.sequence_name::regclass,
                    greatest(workspace.last_number, 1),
                    workspace.last_number > 0
                );
            END LOOP;
        END
        $$
    """)
    op.drop_table("ticket_counters")


def downgrade() -> None:
    op.create_table(
        "ticket_counters",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_ticket_counters_workspace_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_ticket_counters")),
    )
    # Numbers handed out to creations that rolled back were never used: the counters go on from the
    # highest number stored.
    op.execute("""
        INSERT INTO ticket_counters (workspace_id, last_number)
        SELECT workspaces.id, coalesce(max(tickets.number), 0)
        FROM workspaces
        LEFT JOIN tickets ON tickets.workspace_id = workspaces.id
        GROUP BY workspaces.id
    """)
    op.execute(f"""
        DO $$
        DECLARE
            sequence_name text;
        BEGIN
            FOR sequence_name IN SELECT {SEQUENCE_NAME} FROM workspaces LOOP
                EXECUTE format('DROP SEQUENCE IF EXISTS %I', sequence_name);
            END LOOP;
        END
        $$
    """)
