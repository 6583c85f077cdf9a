"""Retention: notifications are kept 90 days."""

from datetime import datetime, timedelta

from sqlalchemy import delete, literal_column, select

from app.db import Database
from app.models import Notification

RETENTION = timedelta(days=90)
BATCH = 5_000
_ROW = literal_column("ctid")


async def purge_old_notifications(db: Database, now: datetime, batch: int = BATCH) -> int:
    """Delete one batch of notifications older than the retention, in a transaction of its own; how
    many were deleted (the worker runs the next batch at once while there were some)."""
    table = Notification.__table__
    old = select(_ROW).select_from(table).where(Notification.created_at < now - RETENTION).limit(batch)
    async with db.sessionmaker() as session, session.begin():
        result = await session.execute(delete(table).where(_ROW.in_(old)))
    return result.rowcount
