"""The attachment job of a worker: uploads that no comment attached in time deleted."""

import logging
from datetime import timedelta

from app.attachments.storage import storage_for
from app.attachments.tasks import purge_unattached
from app.config import Settings
from app.db import Database
from app.kit.jobs import Job, PeriodicJob
from app.kit.time import utcnow

logger = logging.getLogger(__name__)

PURGE_INTERVAL = timedelta(hours=1)


def attachment_jobs(db: Database, settings: Settings) -> list[Job]:
    ttl = timedelta(hours=settings.attachment.unattached_ttl_hours)
    storage = storage_for(settings)

    async def purge() -> int:
        purged = await purge_unattached(db, storage, utcnow(), ttl)
        if purged:
            logger.info("purged %d unattached uploads", purged)
        return purged

    return [PeriodicJob("purging unattached uploads", purge, interval_seconds=PURGE_INTERVAL.total_seconds())]
