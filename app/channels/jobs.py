"""The channel jobs of a worker: received messages threaded, agents' replies sent, customers' names
fetched from their providers, mail received by SMTP."""

import asyncio

import httpx

from app.channels.adapters.mail.listener import serve_smtp
from app.channels.profiles import fetch_due_profiles
from app.channels.tasks import send_due_replies, thread_due
from app.config import Settings
from app.db import Database
from app.kit.crypto import SecretBox
from app.kit.jobs import Job, PeriodicJob, Service, Wake
from app.kit.outbound import outbound_policy

# Notified by triggers when messages are stored, replies queued, or either put off (migrations: channels).
INBOUND_CHANNEL = "helpdesk_inbound"
OUTBOUND_CHANNEL = "helpdesk_outbound"


def channel_jobs(
    db: Database,
    settings: Settings,
    secret_box: SecretBox,
    client: httpx.AsyncClient,
    stopping: asyncio.Event,
) -> list[Job]:
    """`client` downloads the files messages link to and sends replies; a message being threaded when
    `stopping` is set is finished, and no other taken."""
    policy = outbound_policy(settings)

    async def thread() -> int:
        return await thread_due(db, settings, secret_box, client, stopping)

    async def reply() -> int:
        return await send_due_replies(db, settings, secret_box, client, policy)

    async def fetch_profiles() -> int:
        return await fetch_due_profiles(db, settings, secret_box, client)

    jobs: list[Job] = [
        PeriodicJob(
            "threading inbound messages",
            thread,
            interval_seconds=settings.worker.poll_seconds,
            wake=Wake(INBOUND_CHANNEL),
            concurrency=settings.worker.inbound_concurrency,
        ),
        PeriodicJob(
            "sending replies",
            reply,
            interval_seconds=settings.worker.poll_seconds,
            wake=Wake(OUTBOUND_CHANNEL),
        ),
        # Due a moment after the message that made the customer (a retry later): looked for as often as
        # the worker polls, so a new customer's name shows within seconds.
        PeriodicJob(
            "fetching customers' profiles", fetch_profiles, interval_seconds=settings.worker.poll_seconds
        ),
    ]
    if settings.email.listen:

        async def receive_mail(stopping: asyncio.Event) -> None:
            await serve_smtp(db, settings, stopping)

        jobs.append(Service("receiving mail by SMTP", receive_mail))
    return jobs
