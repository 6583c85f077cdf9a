"""Tag counts brought up to date: the changes ticket writes appended, folded into tag_counts."""

import asyncpg
from sqlalchemy import text

from app.db import Database

FOLD_BATCH = 50_000

# One batch: the changes taken (and deleted), summed per tag and added to the counts. A workspace deleted
# meanwhile has no counts left to add to: its changes go. Workers folding side by side never take the
# same row twice: the second to reach it finds it deleted and passes over it.
FOLD_TAG_COUNT_CHANGES = f"""
WITH taken AS (
    DELETE FROM tag_count_changes
     WHERE ctid = ANY(ARRAY(SELECT ctid FROM tag_count_changes LIMIT {FOLD_BATCH}))
    RETURNING workspace_id, tag, delta
), added AS (
    INSERT INTO tag_counts AS counted (workspace_id, tag, tickets)
    SELECT workspace_id, tag, sum(delta) FROM taken
     WHERE workspace_id IN (SELECT id FROM workspaces)
     GROUP BY workspace_id, tag
    ON CONFLICT (workspace_id, tag) DO UPDATE SET tickets = counted.tickets + excluded.tickets
)
SELECT count(*) FROM taken
"""  # noqa: S608 (a constant)


async def fold_tag_count_changes_on(connection: asyncpg.Connection) -> int:
    """The same on a plain connection (the demo loader's, after a load): each batch its own transaction."""
    folded = 0
    while True:
        taken = await connection.fetchval(FOLD_TAG_COUNT_CHANGES)
        folded += taken
        if taken < FOLD_BATCH:
            return folded


async def fold_tag_count_changes(db: Database) -> int:
    """Fold every change appended so far, a batch per transaction; how many were folded."""
    folded = 0
    while True:
        async with db.sessionmaker() as session, session.begin():
            taken = (await session.execute(text(FOLD_TAG_COUNT_CHANGES))).scalar_one()
        folded += taken
        if taken < FOLD_BATCH:
            return folded
