"""Public replies queued for the ticket's channel, in the transaction of the comment."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import messenger
from app.channels.repository import ChannelRepository, ConversationRepository, OutboundRepository
from app.kit.ids import new_id
from app.models import Comment, MessagingChannel, OutboundMessage, Ticket
from app.models.enums import ChannelKind, CommentAuthor, DeliveryState
from app.tickets.schemas import ReplyChannelOut


def sends_replies(channel: MessagingChannel) -> bool:
    """Messenger and Zalo always answer; chat and API channels when they have a callback URL, email ones
    when they have an SMTP server."""
    if not channel.active:
        return False
    if channel.kind in (ChannelKind.chat, ChannelKind.api):
        return channel.settings.get("callback_url") is not None
    if channel.kind is ChannelKind.email:
        return bool(channel.settings.get("smtp_host"))
    return True


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
    if channel is None or not sends_replies(channel):
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
    if ticket.internal:
        described.reason = "the ticket is internal: nothing on it is sent out"
    elif not sends_replies(channel):
        described.reason = (
            "the channel is inactive, or has nowhere to send replies (callback URL, SMTP server)"
        )
    elif channel.kind is ChannelKind.messenger:
        described.until = messenger.reply_window(channel, conversation.last_inbound_at)
        if described.until is None or now >= described.until:
            described.reason = "Messenger's reply window closed: the customer has to write first"
    elif channel.kind is ChannelKind.zalo and conversation.address.get("following") is False:
        described.reason = "the customer unfollowed the Official Account"
    described.can_reply = described.reason is None
    return described
