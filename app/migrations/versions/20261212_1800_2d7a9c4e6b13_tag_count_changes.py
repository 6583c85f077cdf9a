"""tag counts folded in by workers: a ticket's write appends its tags' changes, and no longer updates a count

Revision ID: 2d7a9c4e6b13
Revises: 8e4b2c6d1f70
Create Date: 2026-12-12 18:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2d7a9c4e6b13"
down_revision: str | None = "8e4b2c6d1f70"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A write appends one row per tag it adds or removes, to a table without an index or a foreign key:
# nothing to look up and no row another write waits for. Workers fold the rows into tag_counts.
APPEND_CHANGES = """CREATE OR REPLACE FUNCTION helpdesk_count_tags() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before text[] := CASE WHEN TG_OP = 'UPDATE' AND OLD.deleted_at IS NULL THEN OLD.tags ELSE '{}' END;
    after text[] := CASE WHEN NEW.deleted_at IS NULL THEN NEW.tags ELSE '{}' END;
BEGIN
    INSERT INTO tag_count_changes (workspace_id, tag, delta)
    SELECT NEW.workspace_id, tag, 1 FROM unnest(after) AS tag WHERE NOT tag = ANY(before)
    UNION ALL
    SELECT NEW.workspace_id, tag, -1 FROM unnest(before) AS tag WHERE NOT tag = ANY(after);
    RETURN NULL;
END $$"""

UPSERT_SHARDS = """CREATE OR REPLACE FUNCTION helpdesk_count_tags() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before text[] := CASE WHEN TG_OP = 'UPDATE' AND OLD.deleted_at IS NULL THEN OLD.tags ELSE '{}' END;
    after text[] := CASE WHEN NEW.deleted_at IS NULL THEN NEW.tags ELSE '{}' END;
    drawn smallint := floor(random() * 128);
BEGIN
    INSERT INTO tag_counts AS counted (workspace_id, tag, shard, tickets)
    SELECT NEW.workspace_id, changed.tag, drawn, sum(changed.delta)
      FROM (SELECT tag, 1 AS delta FROM unnest(after) AS tag WHERE NOT tag = ANY(before)
            UNION ALL
            SELECT tag, -1 FROM unnest(before) AS tag WHERE NOT tag = ANY(after)) AS changed
     GROUP BY changed.tag
     ORDER BY changed.tag
    ON CONFLICT (workspace_id, tag, shard) DO UPDATE SET tickets = counted.tickets + excluded.tickets;
    RETURN NULL;
END $$"""


def upgrade() -> None:
    op.create_table(
        "tag_count_changes",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
    )
    # Rows come and go all day: vacuumed after a thousand rather than a fifth of the table.
    op.execute(
        "ALTER TABLE tag_count_changes SET (autovacuum_vacuum_scale_factor = 0, "
        "autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0, "
        "autovacuum_vacuum_insert_threshold = 10000)"
    )
    op.execute("LOCK TABLE tickets IN SHARE MODE")
    op.execute(APPEND_CHANGES)
    # One row per tag in place of 128 shards.
    op.execute(
        "CREATE TEMPORARY TABLE tag_totals ON COMMIT DROP AS "
        "SELECT workspace_id, tag, sum(tickets)::integer AS tickets FROM tag_counts GROUP BY workspace_id, tag"
    )
    op.execute("DELETE FROM tag_counts")
    op.drop_constraint("pk_tag_counts", "tag_counts", type_="primary")
    op.drop_column("tag_counts", "shard")
    op.create_primary_key("pk_tag_counts", "tag_counts", ["workspace_id", "tag"])
    op.execute("INSERT INTO tag_counts (workspace_id, tag, tickets) SELECT * FROM tag_totals WHERE tickets <> 0")


def downgrade() -> None:
    op.drop_constraint("pk_tag_counts", "tag_counts", type_="primary")
    op.add_column("tag_counts", sa.Column("shard", sa.SmallInteger(), server_default="0", nullable=False))
    op.alter_column("tag_counts", "shard", server_default=None)
    op.create_primary_key("pk_tag_counts", "tag_counts", ["workspace_id", "tag", "shard"])
    op.execute("LOCK TABLE tickets IN SHARE MODE")
    op.execute(UPSERT_SHARDS)
    op.execute(
        "INSERT INTO tag_counts AS counted (workspace_id, tag, shard, tickets) "
        "SELECT workspace_id, tag, 0, sum(delta) FROM tag_count_changes "
        "WHERE workspace_id IN (SELECT id FROM workspaces) GROUP BY workspace_id, tag "
        "ON CONFLICT (workspace_id, tag, shard) DO UPDATE SET tickets = counted.tickets + excluded.tickets"
    )
    op.drop_table("tag_count_changes")
