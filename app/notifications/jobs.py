"""The retention job of a worker: notifications older than 90 days go, a batch per round."""

from datetime import timedelta

from app.db import Database
from app.kit.jobs import Job, PeriodicJob
from app.kit.time import utcnow
from app.notifications.tasks import purge_old_notifications

PURGE_INTERVAL = timedelta(hours=1)


def notification_jobs(db: Database) -> list[Job]:
    async def purge() -> int:
        return await purge_old_notifications(db, utcnow())

    return [PeriodicJob("purging old notifications", purge, interval_seconds=PURGE_INTERVAL.total_seconds())]
