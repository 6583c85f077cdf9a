"""The portal's jobs of a worker: the links to contacts' tickets sent, expired ones deleted."""

import logging
from datetime import timedelta

from app.config import Settings
from app.db import Database
from app.kit.crypto import SecretBox
from app.kit.jobs import Job, PeriodicJob
from app.kit.outbound import outbound_policy
from app.kit.time import utcnow
from app.portal.tasks import purge_expired_tokens, send_due_access_links

logger = logging.getLogger(__name__)

PURGE_INTERVAL = timedelta(hours=1)


def portal_jobs(db: Database, settings: Settings, secret_box: SecretBox) -> list[Job]:
    policy = outbound_policy(settings)

    async def send() -> int:
        return await send_due_access_links(db, settings, secret_box, policy)

    async def purge() -> int:
        purged = await purge_expired_tokens(db, utcnow())
        if purged:
            logger.info("purged %d expired portal tokens", purged)
        return purged

    return [
        PeriodicJob("sending access links", send, interval_seconds=settings.worker.poll_seconds),
        PeriodicJob("purging expired portal tokens", purge, interval_seconds=PURGE_INTERVAL.total_seconds()),
    ]
