"""Worker jobs of the channels: threading stored inbound events, and sending queued replies.

Each inbound event is threaded in its own transaction, holding its row (FOR UPDATE SKIP LOCKED): a
worker that dies mid-way leaves it to the next, and a committed one is never threaded again. Replies
are leased, sent after the lease commits, and their outcome written in another transaction: sent at
least once, never lost.
"""

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from uuid import UUID

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.attachments.service import attachments_of_comments
from app.channels.adapters import adapter_for
from app.channels.adapters.sending import NotSent, Reply, Sent, Suppressed
from app.channels.pipeline import thread
from app.channels.remote_files import Downloader, DownloadPending
from app.channels.replies import fail_delivery
from app.channels.repository import (
    ChannelRepository,
    ConversationRepository,
    InboundRepository,
    OutboundRepository,
    claim_inbound,
    claim_outbound,
)
from app.channels.service import channel_principal, channel_secrets, secrets_saver
from app.comments.repository import CommentRepository
from app.config import Settings
from app.customer_links.service import issue_link, link_url, linkable
from app.db import Database
from app.errors import AppError
from app.kit import metrics
from app.kit.crypto import SecretBox
from app.kit.outbound import OutboundPolicy, Resolver, outbound_policy, system_resolve
from app.kit.retry import RetrySchedule
from app.kit.time import utcnow
from app.models import Attachment, Comment, Conversation, MessagingChannel, OutboundMessage, Ticket
from app.models.enums import DeliveryState, InboundState
from app.tickets.repository import TicketRepository
from app.workspaces.repository import get_locale

logger = logging.getLogger(__name__)

# Waits before the next try of an event whose threading failed for a reason that may pass.
INBOUND_RETRIES = RetrySchedule(
    (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))
)
# Waits before the next try of a reply the channel did not take.
REPLY_RETRIES = RetrySchedule(
    (
        timedelta(seconds=5),
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=2),
    )
)
REPLY_BATCH = 20


async def thread_due(
    db: Database,
    settings: Settings,
    secret_box: SecretBox,
    client: httpx.AsyncClient | None = None,
    stopping: asyncio.Event | None = None,
) -> int:
    """Thread stored events until none is due, or `stopping` is set (then after the one in hand);
    returns how many were taken. Files the messages link to are downloaded with `client` (a client of
    its own when None)."""
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(httpx.AsyncClient(trust_env=False))
        downloader = Downloader(client, outbound_policy(settings), settings.attachment)
        return await _thread_until_none_due(db, settings, secret_box, downloader, stopping)


async def _thread_until_none_due(
    db: Database,
    settings: Settings,
    secret_box: SecretBox,
    downloader: Downloader,
    stopping: asyncio.Event | None,
) -> int:
    taken = 0
    while stopping is None or not stopping.is_set():
        async with db.sessionmaker() as session:
            failure: str | None = None
            permanent = False
            claimed: tuple[UUID, UUID] | None = None
            started = time.perf_counter()
            # One transaction per message, without a savepoint: a message that fails is rolled back
            # whole, and its failure written in a transaction of its own.
            try:
                async with session.begin():
                    claim = await claim_inbound(session, utcnow())
                    if claim is None:
                        return taken
                    taken += 1
                    claimed = (claim.message.workspace_id, claim.message.id)
                    await thread(session, settings, secret_box, downloader, claim, utcnow())
            except AppError as error:
                failure, permanent = error.detail, True
            except DownloadPending as pending:
                failure = str(pending)
            except Exception as error:
                if claimed is None:
                    raise
                logger.exception("threading inbound message %s failed", claimed[1])
                failure = f"{type(error).__name__}: {error}"[:1000]
            if claimed is None:
                continue
            if failure is None:
                outcome: str | None = claim.message.state.value  # processed or ignored, as threading left it
            else:
                async with session.begin():
                    outcome = await _failed(session, *claimed, failure, permanent=permanent)
            metrics.INBOUND_THREADING_DURATION.observe(time.perf_counter() - started)
            if outcome is not None:
                metrics.INBOUND_MESSAGES.labels(outcome).inc()
    return taken


async def _failed(
    session: AsyncSession, workspace_id: UUID, inbound_id: UUID, error: str, *, permanent: bool
) -> str | None:
    """Try again later ("retried"), or give up and keep the event (state "failed") with why.

    Written after the failed attempt rolled back, which let the message go: another worker may have
    threaded it meanwhile, and then there is nothing to record (None)."""
    inbound = await InboundRepository(session, workspace_id).get(inbound_id, for_update=True)
    if inbound is None or inbound.state is not InboundState.received:
        return None
    inbound.attempts += 1
    inbound.error = error
    delay = None if permanent else INBOUND_RETRIES.delay_after(inbound.attempts)
    if delay is None:
        inbound.state = InboundState.failed
        inbound.processed_at = utcnow()
        logger.warning("inbound message %s failed: %s", inbound.id, error)
    else:
        inbound.next_attempt_at = utcnow() + delay
    await session.flush()
    return "retried" if delay is not None else InboundState.failed.value


async def send_due_replies(
    db: Database,
    settings: Settings,
    secret_box: SecretBox,
    client: httpx.AsyncClient,
    policy: OutboundPolicy,
    resolve: Resolver = system_resolve,
) -> int:
    """Send a batch of due replies; returns how many were tried."""
    now = utcnow()
    async with db.sessionmaker() as session, session.begin():
        lease = timedelta(seconds=settings.worker.lease_seconds)
        claimed = await claim_outbound(session, now, now + lease, REPLY_BATCH)
        loaded = [found for message in claimed if (found := await _load(session, message))]
        contexts = [
            await adapter_for(channel.kind).context(session, ticket) for _, channel, _, ticket, _, _ in loaded
        ]
        for (_, channel, _, ticket, _, _), context in zip(loaded, contexts, strict=True):
            if adapter_for(channel.kind).carries_customer_link:
                context["customer_link"] = await _customer_link(session, settings, channel, ticket)
    replies = [
        Reply(
            message,
            channel,
            channel_secrets(channel, secret_box),
            conversation,
            ticket,
            comment,
            client=client,
            now=utcnow(),
            timeout=settings.webhook.timeout_seconds,
            policy=policy,
            resolve=resolve,
            save_secrets=secrets_saver(db, secret_box, channel),
            settings=settings,
            attachments=attachments,
            context=context,
        )
        for (message, channel, conversation, ticket, comment, attachments), context in zip(
            loaded, contexts, strict=True
        )
    ]
    # Those whose channel, conversation, ticket or comment was deleted failed at once.
    metrics.REPLIES.labels(DeliveryState.failed.value).inc(len(claimed) - len(loaded))
    outcomes = await asyncio.gather(*(adapter_for(reply.channel.kind).send(reply) for reply in replies))
    for reply, outcome in zip(replies, outcomes, strict=True):
        async with db.sessionmaker() as session, session.begin():
            recorded = await _record(session, settings, reply, outcome)
        if recorded is not None:
            metrics.REPLIES.labels(recorded).inc()
    return len(claimed)


async def _customer_link(
    session: AsyncSession, settings: Settings, channel: MessagingChannel, ticket: Ticket
) -> dict[str, str] | None:
    """A token of the ticket's customer link of its own, for the reply to end with (and the workspace's
    locale to say it in); None for a ticket the customer may not open (internal, without requester)."""
    if not linkable(ticket):
        return None
    token = await issue_link(session, settings.portal, channel_principal(channel), ticket, replace=False)
    locale = await get_locale(session, ticket.workspace_id)
    return {"url": link_url(settings.portal, token), "locale": locale.value}


async def _load(
    session: AsyncSession, message: OutboundMessage
) -> tuple[OutboundMessage, MessagingChannel, Conversation, Ticket, Comment, list[Attachment]] | None:
    workspace_id = message.workspace_id
    channel = await ChannelRepository(session, workspace_id).get(message.channel_id)
    conversation = await ConversationRepository(session, workspace_id).get(message.conversation_id)
    ticket = await TicketRepository(session, workspace_id).get(message.ticket_id)
    comment = await CommentRepository(session, workspace_id).get(message.comment_id)
    if channel is None or conversation is None or ticket is None or comment is None:
        message.state = DeliveryState.failed
        message.error = "the channel, conversation, ticket or comment was deleted"
        return None
    attachments = await attachments_of_comments(session, workspace_id, [comment.id])
    return message, channel, conversation, ticket, comment, attachments[comment.id]


async def _record(
    session: AsyncSession, settings: Settings, reply: Reply, outcome: Sent | NotSent | Suppressed
) -> str | None:
    """The reply's outcome written: sent, suppressed, retried or failed (None: not the reply's to write,
    it is gone or no longer queued)."""
    workspace_id = reply.message.workspace_id
    message = await OutboundRepository(session, workspace_id).get(reply.message.id, for_update=True)
    comment = await CommentRepository(session, workspace_id).get(reply.comment.id, for_update=True)
    if message is None or comment is None or message.state is not DeliveryState.queued:
        return None
    now = utcnow()
    message.leased_until = None
    if isinstance(outcome, Sent):
        message.state = comment.delivery_state = DeliveryState.sent
        message.provider_message_id = outcome.provider_message_id
        message.sent_at = now
        message.error = comment.delivery_error = None
        comment.provider_message_id = comment.provider_message_id or outcome.provider_message_id
        await session.flush()
        return DeliveryState.sent.value
    if isinstance(outcome, Suppressed):
        # Kept from going out by a loop rule: no failure to announce, nothing to try again.
        message.state = comment.delivery_state = DeliveryState.suppressed
        message.error = comment.delivery_error = outcome.reason
        await session.flush()
        return DeliveryState.suppressed.value
    message.error = outcome.error
    delay = None if outcome.permanent else REPLY_RETRIES.delay_after(message.attempts)
    if delay is not None:
        message.next_attempt_at = now + delay
        await session.flush()
        return "retried"
    await fail_delivery(session, settings, message, outcome.error)
    return DeliveryState.failed.value
