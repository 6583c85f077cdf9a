"""The customer portal: what a customer does with a ticket's link (read its public thread, download its
files, reply, mark it solved, rate it), and the list of their tickets that a link sent to their email
address opens.

Everything here acts as the ticket's requester (a contact), through the same comment service and ticket
change pipeline as every other change: events, triggers, notifications and SLA clocks all follow. A link
opens its own ticket and nothing else: every read and write below starts from the ticket the token
names, never from an id the customer sends (an attachment's id is checked against that ticket).

The JSON routes (app/portal/router.py) and server-rendered pages use this service alike.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from fastapi import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.repository import AgentRepository
from app.attachments.repository import AttachmentRepository
from app.attachments.service import attachments_of_comments
from app.attachments.storage import Storage
from app.auth.principal import Principal
from app.comments.repository import CommentRepository
from app.comments.schemas import CommentCreate
from app.comments.service import CommentService
from app.config import Settings
from app.contacts.repository import ContactRepository
from app.customer_links.service import issue_link, link_expires_at, link_url, ticket_of_link
from app.errors import Conflict, NotFound
from app.kit.pagination import PageParams
from app.kit.time import utcnow
from app.models import Attachment, Comment, Ticket, TicketRating
from app.models.enums import ActorType, Channel, CommentAuthor, Role, Scope, StatusKind
from app.portal.schemas import (
    PortalAttachmentOut,
    PortalCommentOut,
    PortalRatingOut,
    PortalReplyOut,
    PortalTicketOut,
)
from app.ratings.schemas import RatingIn
from app.ratings.service import RatingService, changeable_until
from app.tickets.schemas import TicketUpdate
from app.tickets.service import TicketService

# What a customer may read and write: a ticket's public thread and their own replies, never notes.
CUSTOMER_SCOPES = frozenset({Scope.tickets_read, Scope.comments_write})
_UNRESOLVED = (StatusKind.new, StatusKind.open, StatusKind.pending, StatusKind.on_hold)
_AUTHORS = {CommentAuthor.contact: "customer", CommentAuthor.agent: "agent", CommentAuthor.system: "system"}


def customer_principal(workspace_id: UUID, contact_id: UUID) -> Principal:
    """The contact as the author of the changes they make through the portal."""
    return Principal(workspace_id, Role.viewer, ActorType.contact, contact_id, scopes=CUSTOMER_SCOPES)


@dataclass(frozen=True)
class Opened:
    """The ticket a link opened, and its requester acting on it."""

    ticket: Ticket
    principal: Principal


@dataclass(frozen=True)
class Reply:
    comment: Comment
    ticket: Ticket
    # A reply on a closed ticket opened a follow-up: the token of its own link.
    follow_up_token: str | None


class PortalService:
    """The portal's operations for one request (or page) within one unit of work; never commits."""

    def __init__(self, session: AsyncSession, settings: Settings, storage: Storage | None = None) -> None:
        self.session = session
        self.settings = settings
        self.storage = storage

    async def open(self, token: str, *, for_update: bool = False, now: datetime | None = None) -> Opened:
        """The ticket the link opens (NotFound, or Gone once expired), with its requester acting."""
        ticket = await ticket_of_link(
            self.session, self.settings.portal, token, for_update=for_update, now=now
        )
        if ticket.requester_id is None:
            raise NotFound("Ticket")
        return Opened(ticket, customer_principal(ticket.workspace_id, ticket.requester_id))

    async def ticket(self, token: str, *, now: datetime | None = None) -> PortalTicketOut:
        opened = await self.open(token, now=now)
        return await self.present_ticket(opened, now=now)

    async def comments(
        self, token: str, page: PageParams, *, now: datetime | None = None
    ) -> tuple[list[PortalCommentOut], str | None]:
        """The ticket's public comments, oldest first: internal notes never."""
        opened = await self.open(token, now=now)
        repo = CommentRepository(self.session, opened.ticket.workspace_id)
        comments, next_cursor = await repo.page(opened.ticket.id, True, page)
        return await self.present_comments(opened.ticket.workspace_id, comments), next_cursor

    async def attachment(self, token: str, attachment_id: UUID, *, now: datetime | None = None) -> Attachment:
        """A file of one of the ticket's public comments; any other is NotFound."""
        opened = await self.open(token, now=now)
        workspace_id = opened.ticket.workspace_id
        attachment = await AttachmentRepository(self.session, workspace_id).get(attachment_id)
        if attachment is None or attachment.ticket_id != opened.ticket.id or attachment.comment_id is None:
            raise NotFound("Attachment")
        comment = await CommentRepository(self.session, workspace_id).get(attachment.comment_id)
        if comment is None or not comment.public or comment.ticket_id != opened.ticket.id:
            raise NotFound("Attachment")
        return attachment

    async def reply(
        self, token: str, body: str, files: Sequence[UploadFile] = (), *, now: datetime | None = None
    ) -> Reply:
        """A public comment by the requester, with files (the attachment limits and sniffing apply). It
        reopens a pending or solved ticket; on a closed one it opens a follow-up ticket, linked to it, where
        the reply goes, and a link of its own."""
        opened = await self.open(token, for_update=True, now=now)
        comments = CommentService(self.session, opened.principal, self.settings, self.storage)
        author = (CommentAuthor.contact, opened.principal.actor_id)
        data = CommentCreate(body=body, public=True, channel=Channel.web)
        comment = await comments.add_to(opened.ticket, data, author, files=files)
        ticket = await comments.tickets.get(comment.ticket_id)
        follow_up_token = None
        if ticket.id != opened.ticket.id:
            follow_up_token = await issue_link(
                self.session, self.settings.portal, opened.principal, ticket, replace=True
            )
        return Reply(comment, ticket, follow_up_token)

    async def present_reply(self, reply: Reply, *, now: datetime | None = None) -> PortalReplyOut:
        principal = customer_principal(reply.ticket.workspace_id, reply.comment.author_id)  # type: ignore[arg-type]
        token = reply.follow_up_token
        return PortalReplyOut(
            comment=(await self.present_comments(reply.ticket.workspace_id, [reply.comment]))[0],
            ticket=await self.present_ticket(Opened(reply.ticket, principal), now=now),
            follow_up_url=link_url(self.settings.portal, token) if token else None,
            follow_up_token=token,
        )

    async def solve(self, token: str, *, now: datetime | None = None) -> PortalTicketOut:
        """The customer says their request is settled: the ticket moves to the default solved status."""
        opened = await self.open(token, now=now)
        if opened.ticket.status_kind not in _UNRESOLVED:
            raise Conflict("The ticket is already solved or closed", code="ticket_resolved")
        tickets = TicketService(self.session, opened.principal, self.settings)
        solved = await tickets.update(opened.ticket.id, TicketUpdate(status_kind=StatusKind.solved))
        return await self.present_ticket(Opened(solved, opened.principal), now=now)

    async def rate(self, token: str, data: RatingIn, *, now: datetime | None = None) -> PortalRatingOut:
        """Rate the ticket's latest solve, or change that rating for a week after it was given."""
        opened = await self.open(token, for_update=True, now=now)
        tickets = TicketService(self.session, opened.principal, self.settings)
        rating, _ = await RatingService(tickets).rate(opened.ticket, data, now or utcnow())
        return _rating_out(rating)

    async def present_ticket(self, opened: Opened, *, now: datetime | None = None) -> PortalTicketOut:
        ticket = opened.ticket
        tickets = TicketService(self.session, opened.principal, self.settings)
        rating = await RatingService(tickets).current(ticket)
        moment = now or utcnow()
        rateable = ticket.solved_at is not None and (rating is None or moment < changeable_until(rating))
        return PortalTicketOut(
            number=ticket.number,
            subject=ticket.subject,
            status_kind=ticket.status_kind,
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
            solved_at=ticket.solved_at,
            closed_at=ticket.closed_at,
            can_reply=True,
            can_solve=ticket.status_kind in _UNRESOLVED,
            can_rate=rateable,
            rating=_rating_out(rating) if rating is not None else None,
            link_expires_at=link_expires_at(self.settings.portal, ticket),
        )

    async def present_comments(
        self, workspace_id: UUID, comments: Sequence[Comment]
    ) -> list[PortalCommentOut]:
        """The comments as the customer sees them: who wrote each (by name), never the agents' ids, the
        channel's delivery details or how a message was threaded."""
        files = await attachments_of_comments(
            self.session, workspace_id, [comment.id for comment in comments]
        )
        names = await self._names(workspace_id, comments)
        return [
            PortalCommentOut(
                id=comment.id,
                author=_AUTHORS[comment.author_type],  # type: ignore[arg-type]
                author_name=names.get(comment.author_id) if comment.author_id else None,
                body=comment.body,
                html_body=comment.html_body,
                attachments=[PortalAttachmentOut.model_validate(item) for item in files[comment.id]],
                created_at=comment.created_at,
            )
            for comment in comments
        ]

    async def _names(self, workspace_id: UUID, comments: Sequence[Comment]) -> dict[UUID, str | None]:
        agent_ids = list(
            {c.author_id for c in comments if c.author_type is CommentAuthor.agent and c.author_id}
        )
        contact_ids = list(
            {c.author_id for c in comments if c.author_type is CommentAuthor.contact and c.author_id}
        )
        agents = await AgentRepository(self.session, workspace_id).get_many(agent_ids)
        contacts = await ContactRepository(self.session, workspace_id).get_many(contact_ids)
        return {agent.id: agent.name for agent in agents} | {contact.id: contact.name for contact in contacts}


def _rating_out(rating: TicketRating) -> PortalRatingOut:
    return PortalRatingOut(
        score=rating.score,
        good=rating.good,
        comment=rating.comment,
        created_at=rating.created_at,
        updated_at=rating.updated_at,
        changeable_until=changeable_until(rating),
    )
