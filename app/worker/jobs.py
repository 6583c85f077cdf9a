"""Every job a worker runs: each domain declares its own."""

import asyncio

import httpx

from app.assignment.jobs import assignment_jobs
from app.attachments.jobs import attachment_jobs
from app.automations.jobs import automation_jobs
from app.channels.jobs import channel_jobs
from app.config import Settings
from app.db import Database
from app.events.jobs import event_jobs
from app.kit.crypto import SecretBox
from app.kit.jobs import Job
from app.notifications.jobs import notification_jobs
from app.portal.jobs import portal_jobs
from app.privacy.jobs import privacy_jobs
from app.search.jobs import search_jobs
from app.sla.jobs import sla_jobs
from app.webhooks.jobs import webhook_jobs


def declared_jobs(
    db: Database,
    settings: Settings,
    secret_box: SecretBox,
    client: httpx.AsyncClient,
    stopping: asyncio.Event,
) -> list[Job]:
    """`client` is for the jobs' outbound requests (webhook deliveries have clients of their own)."""
    return [
        *webhook_jobs(db, settings, secret_box),
        *assignment_jobs(db, settings),
        *sla_jobs(db, settings),
        *automation_jobs(db, settings),
        *channel_jobs(db, settings, secret_box, client, stopping),
        *event_jobs(db, settings),
        *attachment_jobs(db, settings),
        *notification_jobs(db, settings, secret_box),
        *privacy_jobs(db, settings),
        *portal_jobs(db, settings, secret_box),
        *search_jobs(db, settings),
    ]
