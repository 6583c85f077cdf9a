"""Retention: events (with their deliveries), delivery attempts, expired idempotency keys and presence go."""

from datetime import datetime, timedelta

from app.db import Database
from app.kit.retention import BATCH, delete_batch
from app.models import Event, IdempotencyKey, Presence, WebhookAttempt


async def purge_expired(db: Database, now: datetime, retention: timedelta) -> int:
    """Delete what has outlived its retention, a batch per transaction; the number of rows deleted."""
    deleted = 0
    for table, column, horizon in (
        (WebhookAttempt.__table__, WebhookAttempt.attempted_at, now - retention),
        (Event.__table__, Event.occurred_at, now - retention),
        (IdempotencyKey.__table__, IdempotencyKey.expires_at, now),
        (Presence.__table__, Presence.expires_at, now),
    ):
        while True:
            rows = await delete_batch(db.sessionmaker, table, column < horizon)
            deleted += rows
            if rows < BATCH:
                break
    return deleted
