"""The end of a reply's delivery: failed for good, written on the comment and announced."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.channels.repository import OutboundRepository
from app.comments.repository import CommentRepository
from app.comments.service import CommentService
from app.config import Settings
from app.models import MessagingChannel, OutboundMessage
from app.models.enums import ActorType, DeliveryState, Role
from app.outbox import EventType, event_row, record
from app.tickets.events import ticket_json
from app.tickets.repository import TicketRepository


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
