"""Replies on channels: queued in the transaction of the comment, and the end of a delivery that failed
for good (written on the comment and announced)."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.channels.adapters import adapter_for
from app.channels.repository import ChannelRepository, ConversationRepository, OutboundRepository
from app.comments.repository import CommentRepository
from app.comments.service import CommentService
from app.config import Settings
from app.kit.ids import new_id
from app.models import Comment, MessagingChannel, OutboundMessage, Ticket
from app.models.enums import ActorType, CommentAuthor, DeliveryState, Role
from app.outbox import EventType, event_row, record
from app.tickets.events import ticket_json
from app.tickets.repository import TicketRepository
from app.tickets.schemas import ReplyChannelOut


async def queue_reply(session: AsyncSession, ticket: Ticket, comment: Comment) -> bool:
    """Queue the comment to go out on the channel the ticket came from; whether it was queued.

    Only public comments by staff (agents, the system, triggers) go out, never on an internal ticket,
    and never a message that itself arrived on a channel.
    """
    if (
        ticket.conversation_id is None
        or ticket.internal
        or not comment.public
        or comment.author_type is CommentAuthor.contact
        or comment.threading is not None
    ):
        return False
    workspace_id = ticket.workspace_id
    conversation = await ConversationRepository(session, workspace_id).get(ticket.conversation_id)
    if conversation is None:
        return False
    channel = await ChannelRepository(session, workspace_id).get(conversation.channel_id)
    if channel is None or not adapter_for(channel.kind).sends_replies(channel):
        return False
    await OutboundRepository(session, workspace_id).add(
        OutboundMessage(
            id=new_id(),
            channel_id=channel.id,
            conversation_id=conversation.id,
            ticket_id=ticket.id,
            comment_id=comment.id,
        )
    )
    comment.delivery_state = DeliveryState.queued
    await session.flush()
    return True


async def reply_channel(session: AsyncSession, ticket: Ticket, now: datetime) -> ReplyChannelOut | None:
    """Where a public reply to the ticket would go, and whether it can go now."""
    if ticket.conversation_id is None:
        return None
    conversation = await ConversationRepository(session, ticket.workspace_id).get(ticket.conversation_id)
    channel = None
    if conversation is not None:
        channel = await ChannelRepository(session, ticket.workspace_id).get(conversation.channel_id)
    if conversation is None or channel is None:
        return None
    described = ReplyChannelOut(channel_id=channel.id, kind=channel.kind, can_reply=True)
    adapter = adapter_for(channel.kind)
    if ticket.internal:
        described.reason = "the ticket is internal: nothing on it is sent out"
    elif not adapter.sends_replies(channel):
        described.reason = (
            "the channel is inactive, or has nowhere to send replies (callback URL, SMTP server)"
        )
    else:
        window = adapter.reply_window(channel, conversation, now)
        described.until, described.reason = window.until, window.closed
    described.can_reply = described.reason is None
    return described


async def fail_delivery(
    session: AsyncSession, settings: Settings, message: OutboundMessage, error: str
) -> None:
    """Mark the (locked) reply and its comment failed, and write `ticket.comment_delivery_failed`."""
    workspace_id = message.workspace_id
    comment = await CommentRepository(session, workspace_id).get(message.comment_id, for_update=True)
    message.state = DeliveryState.failed
    message.error = error
    message.leased_until = None
    if comment is None:
        await session.flush()
        return
    comment.delivery_state = DeliveryState.failed
    comment.delivery_error = error
    await session.flush()
    system = Principal(workspace_id, Role.admin, ActorType.system, message.channel_id)
    ticket = await TicketRepository(session, workspace_id).get(message.ticket_id)
    [shown] = await CommentService(session, system, settings).present([comment])
    data = {"ticket": ticket_json(ticket), "comment": shown.model_dump(mode="json")}
    failed = event_row(system, EventType.ticket_comment_delivery_failed, message.ticket_id, data)
    await record(session, system, [failed])


async def bounced(
    session: AsyncSession,
    settings: Settings,
    channel: MessagingChannel,
    provider_message_id: str | None,
    error: str,
) -> bool:
    """A delivery report for a reply sent from here: that reply failed after all. Whether it was ours."""
    if provider_message_id is None:
        return False
    repo = OutboundRepository(session, channel.workspace_id)
    message = await repo.by_provider_id(channel.id, provider_message_id)
    if message is None or message.state is DeliveryState.failed:
        return message is not None
    await fail_delivery(session, settings, message, error)
    return True
