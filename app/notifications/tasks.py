"""Retention: notifications are kept 90 days."""

from datetime import datetime, timedelta

from app.db import Database
from app.kit.retention import BATCH, delete_batch
from app.models import Notification

RETENTION = timedelta(days=90)


async def purge_old_notifications(db: Database, now: datetime, batch: int = BATCH) -> int:
    """Delete one batch of notifications older than the retention; how many were deleted (the worker
    runs the next batch at once while there were some)."""
    return await delete_batch(
        db.sessionmaker, Notification.__table__, Notification.created_at < now - RETENTION, batch
    )
