"""The webhook jobs of a worker: events fanned out to the endpoints subscribed, and deliveries sent."""

from app.config import Settings
from app.db import Database
from app.kit.crypto import SecretBox
from app.kit.jobs import Job, PeriodicJob, Service, Wake
from app.kit.time import utcnow
from app.kit.wakeups import EVENTS_CHANNEL
from app.webhooks.scheduler import DeliveryScheduler
from app.webhooks.tasks import dispatch_events

# Notified by a trigger when deliveries are added or put off (migrations: webhooks).
DELIVERIES_CHANNEL = "helpdesk_deliveries"


def webhook_jobs(db: Database, settings: Settings, secret_box: SecretBox) -> list[Job]:
    scheduler = DeliveryScheduler(db, settings, secret_box)

    async def dispatch() -> int:
        dispatched = await dispatch_events(db, utcnow())
        if dispatched:
            scheduler.deliveries_due.set()  # sooner than the notification of the deliveries added
        return dispatched

    return [
        # Events wait for older transactions to end before they are fanned out: look again soon.
        PeriodicJob(
            "dispatching events",
            dispatch,
            interval_seconds=min(settings.worker.poll_seconds, 0.2),
            wake=Wake(EVENTS_CHANNEL),
        ),
        Service(
            "delivering webhooks", scheduler.run, wake=Wake(DELIVERIES_CHANNEL, scheduler.deliveries_due)
        ),
    ]
