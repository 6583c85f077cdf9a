"""The worker's attachment job: delete uploads that no comment attached in time."""

from datetime import datetime, timedelta

from sqlalchemy import delete, select, tuple_

from app.attachments.storage import Storage
from app.db import Database
from app.models import Attachment

PURGE_BATCH = 500


async def purge_unattached(db: Database, storage: Storage, now: datetime, ttl: timedelta) -> int:
    """Delete the uploads older than `ttl` that were never attached, rows and bytes; the number deleted.

    Each batch's rows go first, in their own transaction, then their bytes: a crash in between leaves
    files without rows, which take space but lose nothing. An upload being attached at this moment is
    locked by that transaction and skipped, so it is never deleted under its new comment.
    """
    purged = 0
    while True:
        async with db.sessionmaker() as session, session.begin():
            expired = (
                select(Attachment.workspace_id, Attachment.id)
                .where(Attachment.attached_at.is_(None), Attachment.created_at < now - ttl)
                .limit(PURGE_BATCH)
                .with_for_update(skip_locked=True)
            )
            deleted = await session.execute(
                delete(Attachment)
                .where(tuple_(Attachment.workspace_id, Attachment.id).in_(expired))
                .returning(Attachment.storage_key)
            )
            keys = list(deleted.scalars())
        for key in keys:
            await storage.delete(key)
        purged += len(keys)
        if len(keys) < PURGE_BATCH:
            return purged
