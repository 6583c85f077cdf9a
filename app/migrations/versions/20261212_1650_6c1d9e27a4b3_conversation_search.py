"""conversation search

Revision ID: 6c1d9e27a4b3
Revises: 5d0e8a7c2b19
Create Date: 2026-12-12 16:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "6c1d9e27a4b3"
down_revision: str | None = "5d0e8a7c2b19"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Accents and case away, in SQL: tags are folded by the database (their generated keys, and the filter's
# and the prefix's keys alike), so both sides of a comparison are folded the same way. IMMUTABLE with the
# dictionary named, as a generated column and an index need; unaccent's rules do not change under them.
FOLD_FUNCTIONS = [
    """CREATE FUNCTION helpdesk_fold(value text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        RETURN lower(public.unaccent('public.unaccent'::regdictionary, value))""",
    # Folded in one call over the tags joined, not tag by tag in a subquery: every ticket written runs
    # it. A tag holds no comma (app/kit/schemas.py `Tag`), so the comma parts them again.
    """CREATE FUNCTION helpdesk_tag_keys(tags text[]) RETURNS text[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN string_to_array(helpdesk_fold(array_to_string(tags, ',')), ',')""",
]
# What app/kit/search.py `fold` makes of a text, for the rows written before: the same on Vietnamese text.
FOLDED = "btrim(regexp_replace(helpdesk_fold({column}), '\\s+', ' ', 'g'))"

# The tickets carrying each tag, kept by the write's own transaction. One row per tag and per shard: each
# change counts in a shard drawn at random among 128, so that concurrent creations with the same tag (a
# channel's default tags) seldom queue on one row until the other commits.
TAG_COUNT_TRIGGERS = [
    """CREATE FUNCTION helpdesk_count_tags() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before text[] := CASE WHEN TG_OP = 'UPDATE' AND OLD.deleted_at IS NULL THEN OLD.tags ELSE '{}' END;
    after text[] := CASE WHEN NEW.deleted_at IS NULL THEN NEW.tags ELSE '{}' END;
    -- One shard for all the change's tags, taken in the tags' order: two changes never lock each
    -- other's rows in opposite orders.
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
END $$""",
    """CREATE TRIGGER tickets_count_tags_inserted AFTER INSERT ON tickets FOR EACH ROW
    WHEN (cardinality(NEW.tags) > 0 AND NEW.deleted_at IS NULL) EXECUTE FUNCTION helpdesk_count_tags()""",
    """CREATE TRIGGER tickets_count_tags_updated AFTER UPDATE OF tags, deleted_at ON tickets FOR EACH ROW
    WHEN (OLD.tags IS DISTINCT FROM NEW.tags OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL))
    EXECUTE FUNCTION helpdesk_count_tags()""",
]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public")
    for statement in FOLD_FUNCTIONS:
        op.execute(statement)

    op.add_column("comments", sa.Column("search_text", sa.Text(), server_default="", nullable=False))
    op.execute(f"UPDATE comments SET search_text = {FOLDED.format(column='body')}")
    op.create_index(
        "ix_comments_search_text",
        "comments",
        ["search_text"],
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    # A ticket's key now holds its description after its subject.
    op.execute(
        f"UPDATE tickets SET search_text = {FOLDED.format(column='subject')}"
        f" || coalesce(' | ' || nullif({FOLDED.format(column='description')}, ''), '')"
    )

    op.add_column(
        "tickets",
        sa.Column(
            "tag_keys",
            postgresql.ARRAY(sa.Text()),
            sa.Computed("helpdesk_tag_keys(tags)", persisted=True),
            nullable=False,
        ),
    )
    op.create_index("ix_tickets_tag_keys", "tickets", ["tag_keys"], postgresql_using="gin")
    # The tag filter reads the folded tags; nothing looks the tags up as written any more.
    op.drop_index("ix_tickets_tags", table_name="tickets")

    op.create_table(
        "tag_counts",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("tag_key", sa.Text(), sa.Computed("helpdesk_fold(tag)", persisted=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_tag_counts_workspace_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "tag", "shard", name=op.f("pk_tag_counts")),
    )
    op.create_index(
        "ix_tag_counts_workspace_id_tag_key",
        "tag_counts",
        ["workspace_id", "tag_key"],
        postgresql_ops={"tag_key": "text_pattern_ops"},
    )
    for statement in TAG_COUNT_TRIGGERS:
        op.execute(statement)
    op.execute(
        "INSERT INTO tag_counts (workspace_id, tag, shard, tickets) "
        "SELECT workspace_id, tag, 0, count(*) FROM tickets, unnest(tags) AS tag "
        "WHERE deleted_at IS NULL GROUP BY workspace_id, tag"
    )

    # Keys given scopes before internal notes had their own keep reading them with the tickets.
    op.execute(
        "UPDATE api_keys SET scopes = array_append(scopes, 'notes:read') "
        "WHERE 'tickets:read' = ANY(scopes) AND NOT 'notes:read' = ANY(scopes)"
    )


def downgrade() -> None:
    op.execute("UPDATE api_keys SET scopes = array_remove(scopes, 'notes:read') WHERE scopes IS NOT NULL")
    op.execute("DROP TRIGGER tickets_count_tags_updated ON tickets")
    op.execute("DROP TRIGGER tickets_count_tags_inserted ON tickets")
    op.execute("DROP FUNCTION helpdesk_count_tags()")
    op.drop_index("ix_tag_counts_workspace_id_tag_key", table_name="tag_counts")
    op.drop_table("tag_counts")
    op.create_index("ix_tickets_tags", "tickets", ["tags"], postgresql_using="gin")
    op.drop_index("ix_tickets_tag_keys", table_name="tickets")
    op.drop_column("tickets", "tag_keys")
    op.execute(f"UPDATE tickets SET search_text = {FOLDED.format(column='subject')}")
    op.drop_index("ix_comments_search_text", table_name="comments")
    op.drop_column("comments", "search_text")
    op.execute("DROP FUNCTION helpdesk_tag_keys(text[])")
    op.execute("DROP FUNCTION helpdesk_fold(text)")
