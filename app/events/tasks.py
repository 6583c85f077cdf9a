"""Retention: events (with their deliveries), rules' call_url requests, delivery attempts, expired
idempotency keys and presence go."""

from datetime import datetime, timedelta

from app.db import Database
from app.kit.retention import BATCH, delete_batch
from app.models import Event, IdempotencyKey, Presence, WebhookAttempt, WebhookDelivery


async def purge_expired(db: Database, now: datetime, retention: timedelta) -> int:
    """Delete what has outlived its retention, a batch per transaction; the number of rows deleted."""
    deleted = 0
    horizon = now - retention
    # The deliveries that carry their own body have no event to go with.
    calls_expired = WebhookDelivery.event_id.is_(None) & (WebhookDelivery.created_at < horizon)
    for table, condition in (
        (WebhookAttempt.__table__, WebhookAttempt.attempted_at < horizon),
        (Event.__table__, Event.occurred_at < horizon),
        (WebhookDelivery.__table__, calls_expired),
        (IdempotencyKey.__table__, IdempotencyKey.expires_at < now),
        (Presence.__table__, Presence.expires_at < now),
    ):
        while True:
            rows = await delete_batch(db.sessionmaker, table, condition)
            deleted += rows
            if rows < BATCH:
                break
    return deleted
