"""Sending the links to contacts' tickets: each claimed in one transaction, given a new token there,
then mailed after the commit through the workspace's email channel, its outcome written in another."""

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.adapters.mail.adapter import send_mail
from app.channels.adapters.sending import NotSent, Sent
from app.channels.service import channel_secrets
from app.config import Settings
from app.db import Database
from app.kit.crypto import SecretBox
from app.kit.outbound import OutboundPolicy, Resolver, system_resolve
from app.kit.retention import delete_batch
from app.kit.retry import RetrySchedule
from app.kit.texts import text
from app.kit.time import utcnow
from app.kit.tokens import new_token, read_token
from app.models import MessagingChannel, PortalToken
from app.portal.access import access_url
from app.portal.repository import claim_due_links, contact_email, email_channel
from app.workspaces.repository import get_workspace

logger = logging.getLogger(__name__)

BATCH = 20
# A link lives minutes: tried again soon, and never after it expires.
RETRIES = RetrySchedule((timedelta(seconds=10), timedelta(seconds=30), timedelta(minutes=2)), jitter=0.2)


@dataclass(frozen=True)
class _Mail:
    workspace_id: UUID
    link_id: UUID
    channel: MessagingChannel
    secrets: dict[str, str]
    to: str
    message: EmailMessage


async def send_due_access_links(
    db: Database,
    settings: Settings,
    secret_box: SecretBox,
    policy: OutboundPolicy,
    resolve: Resolver = system_resolve,
) -> int:
    """Send a batch of due links; returns how many were claimed."""
    now = utcnow()
    async with db.sessionmaker() as session, session.begin():
        retry_at = now + timedelta(seconds=settings.worker.lease_seconds)
        links = await claim_due_links(session, now, retry_at, BATCH)
        mails = [mail for link in links if (mail := await _prepared(session, settings, secret_box, link))]
    outcomes = await asyncio.gather(
        *(
            send_mail(
                mail.channel,
                mail.secrets,
                mail.message,
                [mail.to],
                policy=policy,
                resolve=resolve,
                seconds=settings.webhook.timeout_seconds,
            )
            for mail in mails
        )
    )
    for mail, outcome in zip(mails, outcomes, strict=True):
        async with db.sessionmaker() as session, session.begin():
            await _record(session, mail, outcome)
    return len(links)


async def _prepared(
    session: AsyncSession, settings: Settings, secret_box: SecretBox, link: PortalToken
) -> _Mail | None:
    """The link's mail, with a new token; None (and the link given up) when it cannot be sent."""
    now = utcnow()
    if link.expires_at <= now:
        return _give_up(link, "expired before it could be sent")
    channel = await email_channel(session, link.workspace_id)
    if channel is None:
        return _give_up(link, "the workspace has no active email channel that sends mail")
    name, to = await contact_email(session, link.workspace_id, link.contact_id)
    if to is None:
        return _give_up(link, "the contact has no email address")
    workspace = await get_workspace(session, link.workspace_id)
    token = new_token(link.workspace_id)
    link.token_hash = read_token(token)[1]  # type: ignore[index]
    link.attempts += 1
    locale = workspace.locale.value if workspace else "vi"
    company = workspace.name if workspace else ""
    address = str(channel.settings["address"])
    message = EmailMessage()
    message["From"] = formataddr((channel.settings.get("display_name") or channel.name, address))
    message["To"] = formataddr((name or "", to))
    message["Subject"] = text(locale, "portal_access_subject", workspace=company)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=address.partition("@")[2])
    # Sent by the service on a request, not by a person: no auto-reply should answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        text(
            locale,
            "portal_access_body",
            name=name or to,
            workspace=company,
            url=access_url(settings.portal.public_base_url, token),
            minutes=settings.portal.access_link_minutes,
        )
    )
    await session.flush()
    return _Mail(link.workspace_id, link.id, channel, channel_secrets(channel, secret_box), to, message)


def _give_up(link: PortalToken, reason: str) -> None:
    link.next_attempt_at = None
    link.error = reason
    logger.warning("access link %s not sent: %s", link.id, reason)
    return None


async def _record(session: AsyncSession, mail: _Mail, outcome: Sent | NotSent) -> None:
    link = await session.get(PortalToken, (mail.workspace_id, mail.link_id), with_for_update=True)
    if link is None:
        return
    if isinstance(outcome, Sent):
        link.sent_at = utcnow()
        link.next_attempt_at = None
        link.error = None
        return
    link.error = outcome.error
    delay = None if outcome.permanent else RETRIES.delay_after(link.attempts)
    retry_at = utcnow() + delay if delay is not None else None
    link.next_attempt_at = retry_at if retry_at is not None and retry_at < link.expires_at else None
    if link.next_attempt_at is None:
        logger.warning("access link %s not sent: %s", link.id, outcome.error)


async def purge_expired_tokens(db: Database, now: datetime) -> int:
    """Delete a batch of access links and sessions that expired: they open nothing any more."""
    table = PortalToken.__table__
    return await delete_batch(db.sessionmaker, table, table.c.expires_at < now)  # type: ignore[arg-type]
