"""The retention job of a worker: events, delivery attempts, idempotency keys and presence that expired."""

import logging
from datetime import timedelta

from app.config import Settings
from app.db import Database
from app.events.tasks import purge_expired
from app.kit.jobs import Job, PeriodicJob
from app.kit.time import utcnow

logger = logging.getLogger(__name__)

PURGE_INTERVAL = timedelta(hours=1)


def event_jobs(db: Database, settings: Settings) -> list[Job]:
    retention = timedelta(days=settings.event_retention_days)

    async def purge() -> int:
        purged = await purge_expired(db, utcnow(), retention)
        if purged:
            logger.info("purged %d expired rows", purged)
        return purged

    return [PeriodicJob("purging expired rows", purge, interval_seconds=PURGE_INTERVAL.total_seconds())]
