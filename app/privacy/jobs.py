"""The privacy jobs of a worker: customers' data requests carried out, and workspaces' retention."""

import logging
from datetime import timedelta

from app.attachments.storage import storage_for
from app.config import Settings
from app.db import Database
from app.kit.jobs import Job, PeriodicJob
from app.kit.time import utcnow
from app.privacy.retention import apply_retention
from app.privacy.tasks import carry_out_requests

logger = logging.getLogger(__name__)

REQUESTS_INTERVAL = timedelta(seconds=10)
RETENTION_INTERVAL = timedelta(hours=1)


def privacy_jobs(db: Database, settings: Settings) -> list[Job]:
    storage = storage_for(settings)
    lease = timedelta(seconds=settings.worker.lease_seconds)

    async def requests() -> int:
        return await carry_out_requests(db, storage, settings.privacy, utcnow(), lease)

    async def retention() -> int:
        applied = await apply_retention(db, storage, utcnow(), settings.privacy.batch_size)
        if applied:
            logger.info("retention deleted or anonymised %d rows", applied)
        # One run an interval: a run goes on until each workspace is done.
        return 0

    return [
        PeriodicJob(
            "carrying out data requests", requests, interval_seconds=REQUESTS_INTERVAL.total_seconds()
        ),
        PeriodicJob("applying retention", retention, interval_seconds=RETENTION_INTERVAL.total_seconds()),
    ]
