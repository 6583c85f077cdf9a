"""The notifications' worker tasks: notification emails sent, and retention (notifications are kept
90 days)."""

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.channels.adapters.mail.adapter import send_by_smtp
from app.channels.adapters.sending import NotSent, Sent
from app.channels.service import channel_secrets
from app.config import Settings
from app.db import Database
from app.kit.crypto import SecretBox
from app.kit.outbound import OutboundPolicy, Resolver, system_resolve
from app.kit.retention import BATCH, delete_batch
from app.kit.retry import RetrySchedule
from app.kit.time import utcnow
from app.models import MessagingChannel, Notification, NotificationEmail, Ticket
from app.models.enums import ActorType, NotificationEmailState, Role
from app.notifications.mail import compose_email
from app.notifications.repository import (
    channels_of,
    claim_emails,
    fail_abandoned_emails,
    get_email,
    tickets_of,
)
from app.tickets.changes import history_rows
from app.tickets.repository import TicketRepository

logger = logging.getLogger(__name__)

RETENTION = timedelta(days=90)


async def purge_old_notifications(db: Database, now: datetime, batch: int = BATCH) -> int:
    """Delete one batch of notifications older than the retention; how many were deleted (the worker
    runs the next batch at once while there were some)."""
    return await delete_batch(
        db.sessionmaker, Notification.__table__, Notification.created_at < now - RETENTION, batch
    )


# Waits before the next try of an email the SMTP server did not take for a reason that may pass.
EMAIL_RETRIES = RetrySchedule(
    (
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(minutes=30),
        timedelta(hours=2),
    ),
    jitter=0.1,
)
EMAIL_BATCH = 20


async def send_due_emails(
    db: Database,
    settings: Settings,
    secret_box: SecretBox,
    policy: OutboundPolicy,
    resolve: Resolver = system_resolve,
) -> int:
    """Send a batch of due notification emails; returns how many were tried.

    Each is marked `sending` in a transaction that commits before the SMTP call, and its outcome written
    in a transaction of its own after: an email is never sent twice, and one whose worker stopped
    mid-send fails (`fail_abandoned_emails`) rather than go again.
    """
    now = utcnow()
    async with db.sessionmaker() as session, session.begin():
        await record_failures(session, await fail_abandoned_emails(session, now))
        lease = timedelta(seconds=settings.worker.lease_seconds)
        claimed = await claim_emails(session, now, now + lease, EMAIL_BATCH)
        channels = await channels_of(session, claimed)
        tickets = {
            (ticket.workspace_id, ticket.id): ticket
            for ticket in await tickets_of(
                session, [(email.workspace_id, email.ticket_id) for email in claimed]
            )
        }
    outcomes = await asyncio.gather(
        *(
            _send(
                email,
                channels[email.channel_id],
                tickets.get((email.workspace_id, email.ticket_id)),
                secret_box,
                settings.webhook.timeout_seconds,
                policy,
                resolve,
            )
            for email in claimed
        )
    )
    for email, outcome in zip(claimed, outcomes, strict=True):
        async with db.sessionmaker() as session, session.begin():
            await _record(session, email, outcome)
    return len(claimed)


async def _send(
    email: NotificationEmail,
    channel: MessagingChannel,
    ticket: Ticket | None,
    secret_box: SecretBox,
    timeout_seconds: float,
    policy: OutboundPolicy,
    resolve: Resolver,
) -> Sent | NotSent:
    if not channel.active:
        return NotSent("the notification channel was deactivated", True)
    try:
        secrets = channel_secrets(channel, secret_box)
        mail = compose_email(email, channel, secrets, ticket)
    except (RuntimeError, ValueError) as error:
        return NotSent(f"the mail could not be written: {error}"[:1000], True)
    return await send_by_smtp(
        channel.settings,
        secrets,
        mail,
        [email.to_address],
        timeout_seconds=timeout_seconds,
        policy=policy,
        resolve=resolve,
    )


async def _record(session: AsyncSession, email: NotificationEmail, outcome: Sent | NotSent) -> None:
    """The outcome of the attempt: sent, due again later, or failed for good."""
    found = await get_email(session, email.workspace_id, email.id)
    if found is None or found.state is not NotificationEmailState.sending:
        return
    found.leased_until = None
    if isinstance(outcome, Sent):
        found.state, found.sent_at, found.error = NotificationEmailState.sent, utcnow(), None
    else:
        found.error = outcome.error
        delay = None if outcome.permanent else EMAIL_RETRIES.delay_after(found.attempts)
        if delay is None:
            found.state = NotificationEmailState.failed
            logger.warning("notification email %s failed: %s", found.id, outcome.error)
            await record_failures(session, [found])
        else:
            found.state, found.next_attempt_at = NotificationEmailState.queued, utcnow() + delay
    await session.flush()


async def record_failures(session: AsyncSession, emails: Sequence[NotificationEmail]) -> None:
    """The history of each email's ticket says that it will not go out, and why (written by the system,
    on behalf of the notification channel)."""
    for email in emails:
        system = Principal(email.workspace_id, Role.admin, ActorType.system, email.channel_id)
        failed = {"failed": email.error, "to": email.to_address}
        await TicketRepository(session, email.workspace_id).add_history(
            history_rows(email.ticket_id, system, {"notify": (None, failed)})
        )
