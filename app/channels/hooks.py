"""Channels in the ticket change pipeline: a reply added to a ticket that came from a channel goes out
on it."""

from app.channels.replies import queue_reply
from app.models import Comment, Ticket
from app.tickets.pipeline import TicketHook
from app.tickets.service import TicketService


class ReplyHook(TicketHook):
    async def comment_added(self, service: TicketService, ticket: Ticket, comment: Comment) -> None:
        await queue_reply(service.session, ticket, comment)
