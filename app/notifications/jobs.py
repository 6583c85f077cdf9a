"""The notifications' jobs of a worker: notification emails sent; notifications older than 90 days
deleted, a batch per round."""

from datetime import timedelta

from app.config import Settings
from app.db import Database
from app.kit.crypto import SecretBox
from app.kit.jobs import Job, PeriodicJob
from app.kit.outbound import outbound_policy
from app.kit.time import utcnow
from app.notifications.tasks import purge_old_notifications, send_due_emails

PURGE_INTERVAL = timedelta(hours=1)


def notification_jobs(db: Database, settings: Settings, secret_box: SecretBox) -> list[Job]:
    policy = outbound_policy(settings)

    async def purge() -> int:
        return await purge_old_notifications(db, utcnow())

    async def send() -> int:
        return await send_due_emails(db, settings, secret_box, policy)

    return [
        PeriodicJob("sending notification emails", send, interval_seconds=settings.worker.poll_seconds),
        PeriodicJob("purging old notifications", purge, interval_seconds=PURGE_INTERVAL.total_seconds()),
    ]
