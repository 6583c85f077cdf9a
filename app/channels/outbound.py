"""Public replies queued for the ticket's channel, in the transaction of the comment."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.repository import ChannelRepository, ConversationRepository, OutboundRepository
from app.kit.ids import new_id
from app.models import Comment, MessagingChannel, OutboundMessage, Ticket
from app.models.enums import CommentAuthor, DeliveryState


def sends_replies(channel: MessagingChannel) -> bool:
    return channel.active and channel.settings.get("callback_url") is not None


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
