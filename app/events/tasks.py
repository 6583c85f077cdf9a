"""Retention: events (with their deliveries), delivery attempts, expired idempotency keys and presence go."""

from datetime import datetime, timedelta

from sqlalchemy import delete, literal_column, select

from app.db import Database
from app.models import Event, IdempotencyKey, Presence, WebhookAttempt

BATCH = 5_000
_ROW = literal_column("ctid")


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
            batch = select(_ROW).select_from(table).where(column < horizon).limit(BATCH)
            async with db.sessionmaker() as session, session.begin():
                result = await session.execute(delete(table).where(_ROW.in_(batch)))
            deleted += result.rowcount
            if result.rowcount < BATCH:
                break
    return deleted
