"""Comments: replies and notes, and what they change on their ticket, in the same transaction."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import nh3
from fastapi import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.repository import AgentRepository
from app.attachments.schemas import AttachmentOut
from app.attachments.service import (
    PayloadTooLarge,
    attach_stored,
    attach_uploads,
    attachments_of_comments,
    store_files,
)
from app.attachments.storage import Storage
from app.auth.principal import Principal
from app.comments.repository import CommentRepository
from app.comments.schemas import AuthorOut, CallRecord, CommentCreate, CommentDeliveryOut, CommentOut
from app.config import Settings
from app.contacts.repository import ContactRepository
from app.errors import Conflict, NotFound, Unprocessable
from app.kit.ids import new_id
from app.kit.pagination import PageParams
from app.kit.search import search_key
from app.kit.time import utcnow
from app.models import Attachment, Comment, Ticket
from app.models.enums import ActorType, Channel, CommentAuthor, StatusKind
from app.outbox import EventType, event_row
from app.tickets.events import metrics_json, ticket_json
from app.tickets.service import TicketService
from app.tickets.writes import holding_writes, record_events

# A customer writing on a ticket waiting for them, or solved, brings it back to work.
_REOPENED_BY_CUSTOMER = (StatusKind.pending, StatusKind.on_hold, StatusKind.solved)


class CommentService:
    def __init__(
        self,
        session: AsyncSession,
        principal: Principal,
        settings: Settings,
        storage: Storage | None = None,
        tickets: TicketService | None = None,
    ) -> None:
        """`tickets`: the unit of work's ticket service, when it has one already (its SLA policies and
        triggers are read once)."""
        self.session = session
        self.principal = principal
        self.settings = settings
        self.storage = storage
        self.tickets = tickets or TicketService(session, principal, settings)
        self.repo = CommentRepository(session, principal.workspace_id)

    async def get(self, comment_id: UUID) -> Comment:
        comment = await self.repo.get_or_404(comment_id)
        if not comment.public and not self.principal.sees_internal_notes:
            raise NotFound("Comment")
        await self.tickets.get(comment.ticket_id)  # visible only with its ticket
        return comment

    async def page(
        self, ticket_id: UUID, public: bool | None, page: PageParams
    ) -> tuple[list[Comment], str | None]:
        await self.tickets.get(ticket_id)
        if not self.principal.sees_internal_notes:
            if public is False:
                return [], None
            public = True
        return await self.repo.page(ticket_id, public, page)

    async def add(
        self,
        ticket_id: UUID,
        data: CommentCreate,
        *,
        files: Sequence[UploadFile] = (),
        allow_closed: bool = False,
        threading: dict[str, Any] | None = None,
    ) -> Comment:
        """`allow_closed`: a trigger's message on a ticket that was just closed goes on that ticket.
        `threading`: for a message that arrived on a channel, how it found its ticket."""
        # Messages addressed to a merged ticket land on the ticket it was merged into.
        ticket = await self.tickets.repo.surviving(await self.tickets.get(ticket_id, for_update=True))
        author = await self._author(data)
        return await self.add_to(
            ticket, data, author, files=files, allow_closed=allow_closed, threading=threading
        )

    async def add_to(
        self,
        ticket: Ticket,
        data: CommentCreate,
        author: tuple[CommentAuthor, UUID | None],
        *,
        files: Sequence[UploadFile] = (),
        allow_closed: bool = False,
        threading: dict[str, Any] | None = None,
        automatic: bool = False,
        call: CallRecord | None = None,
    ) -> Comment:
        """As `add`, on a ticket the caller holds locked (not a merged one), by an author it checked:
        a channel's message, whose ticket and contact were just found. `automatic`: a message a machine
        sent (an out-of-office reply): on record, and nothing more: it changes no status, moves no
        clock and runs no trigger. `call`: the call it records."""
        author_type, author_id = author
        if ticket.deleted_at is not None:
            raise Conflict("The ticket is deleted; restore it first", code="ticket_deleted")
        if ticket.status_kind is StatusKind.closed and not allow_closed:
            if author_type is not CommentAuthor.contact:
                raise Conflict(
                    "A closed ticket cannot be changed; reopen it first (POST /v1/tickets/{id}/reopen)",
                    code="ticket_closed",
                )
            ticket = await self.tickets.open_follow_up(ticket)
        await self._refuse_if_outdated(ticket, data.expected_last_comment_id)
        now = utcnow()
        comment = Comment(
            id=new_id(),
            ticket_id=ticket.id,
            author_type=author_type,
            author_id=author_id,
            public=data.public,
            body=data.body,
            html_body=nh3.clean(data.html_body) if data.html_body else None,
            channel=data.channel or Channel.api,
            provider_message_id=data.provider_message_id,
            threading=threading,
            call=call.model_dump(mode="json") if call is not None else None,
            created_at=now,
            search_text=search_key(data.body),
        )
        # Checked before anything is written or stored: a comment they refuse leaves no file behind.
        effects = {
            **_effects(ticket, author_type, data.public, now),
            **await self.tickets.pipeline.comment_changes(self.tickets, ticket, comment),
        }
        await self.repo.add(comment)
        attached = await self._attach(comment, data.attachments, files)
        await self.tickets.pipeline.comment_added(self.tickets, ticket, comment)
        status_kind = data.status_kind
        if data.status_id is None and status_kind is None and not automatic:
            status_kind = _implied_status(ticket, author_type, data.public)
        # The ticket's change, its events and what triggers make of them are written together.
        async with holding_writes(self.session, self.principal.workspace_id):
            updated = await self.tickets.apply_changes(
                ticket,
                effects,
                status_id=data.status_id,
                status_kind=status_kind,
            )
            shown = _comment_out(comment, attached).model_dump(mode="json")
            data = {"ticket": ticket_json(updated), "comment": shown}
            if data["comment"]["public"]:
                data["metrics"] = metrics_json(updated)  # a public comment moves the reply metrics
            await record_events(
                self.session,
                self.principal,
                [event_row(self.principal, EventType.ticket_comment_added, ticket.id, data)],
            )
            if not automatic:
                await self.tickets.after_comment(updated, comment)
        return comment

    async def present(self, comments: Sequence[Comment]) -> list[CommentOut]:
        attachments = await attachments_of_comments(
            self.session, self.principal.workspace_id, [comment.id for comment in comments]
        )
        return [_comment_out(comment, attachments[comment.id]) for comment in comments]

    async def _author(self, data: CommentCreate) -> tuple[CommentAuthor, UUID | None]:
        principal = self.principal
        if principal.actor_type is ActorType.agent:
            if data.author is not None:
                raise Unprocessable("author: an agent token always writes as its agent", field="author")
            return CommentAuthor.agent, principal.agent_id
        if data.author is None:
            return CommentAuthor.system, None
        workspace_id = principal.workspace_id
        if data.author.type == "agent":
            agent = await AgentRepository(self.session, workspace_id).get(data.author.id)
            if agent is None or not agent.active:
                raise Unprocessable(
                    "author.id: no such active agent", field="author.id", code="unknown_reference"
                )
            return CommentAuthor.agent, agent.id
        if not await ContactRepository(self.session, workspace_id).exists(data.author.id):
            raise Unprocessable("author.id: no such contact", field="author.id", code="unknown_reference")
        return CommentAuthor.contact, data.author.id

    async def _refuse_if_outdated(self, ticket: Ticket, expected_last_comment_id: UUID | None) -> None:
        """Collision detection: a reply written before the latest public comment is refused with what it
        missed, so that the agent reads before sending twice. The ticket's row lock orders replies."""
        if expected_last_comment_id is None:
            return
        last = await self.repo.last_public(ticket.id)
        if last is None or last.id == expected_last_comment_id:
            return
        missed = await self.repo.public_after(ticket.id, expected_last_comment_id)
        shown = await self.present(missed or [last])
        raise Conflict(
            "Public comments were added since the one you saw; read them before replying",
            code="comments_missed",
            extra={"missed_comments": [comment.model_dump(mode="json") for comment in shown]},
        )

    async def _attach(
        self, comment: Comment, tokens: Sequence[str], files: Sequence[UploadFile]
    ) -> list[Attachment]:
        """The comment's files, in the order its readers see them (oldest first)."""
        most = self.settings.attachment.max_files_per_comment
        if len(tokens) + len(files) > most:
            raise PayloadTooLarge(f"A comment carries at most {most} files", field="attachments")
        attached: list[Attachment] = []
        if files:
            if self.storage is None:
                raise RuntimeError("files were sent to a comment service without storage")
            attached = await store_files(self.session, self.principal, self.storage, self.settings, files)
            await attach_stored(
                self.session, self.principal.workspace_id, attached, comment.ticket_id, comment.id
            )
        if tokens:
            attached += await attach_uploads(
                self.session, self.principal, tokens, comment.ticket_id, comment.id
            )
        return sorted(attached, key=lambda attachment: (attachment.created_at, attachment.id))


def _comment_out(comment: Comment, attachments: Sequence[Attachment]) -> CommentOut:
    return CommentOut(
        id=comment.id,
        ticket_id=comment.ticket_id,
        author=AuthorOut(type=comment.author_type, id=comment.author_id),
        public=comment.public,
        body=comment.body,
        html_body=comment.html_body,
        channel=comment.channel,
        provider_message_id=comment.provider_message_id,
        original_ticket_id=comment.original_ticket_id,
        threading=comment.threading,
        call=CallRecord.model_validate(comment.call) if comment.call is not None else None,
        delivery=CommentDeliveryOut(state=comment.delivery_state, error=comment.delivery_error)
        if comment.delivery_state is not None
        else None,
        attachments=[AttachmentOut.model_validate(item) for item in attachments],
        created_at=comment.created_at,
    )


def _implied_status(ticket: Ticket, author: CommentAuthor, public: bool) -> StatusKind | None:
    if author is CommentAuthor.contact and ticket.status_kind in _REOPENED_BY_CUSTOMER:
        return StatusKind.open
    if author is CommentAuthor.agent and public and ticket.status_kind is StatusKind.new:
        return StatusKind.open
    return None


# Where a side's last public reply is kept (a system message is neither side's).
_REPLY_TIME_COLUMNS = {
    CommentAuthor.contact: "last_customer_reply_at",
    CommentAuthor.agent: "last_agent_reply_at",
}


def _effects(ticket: Ticket, author: CommentAuthor, public: bool, now: Any) -> dict[str, Any]:
    if not public:
        return {}
    effects: dict[str, Any] = {"last_public_comment_at": now, "last_public_comment_by": author}
    if author in _REPLY_TIME_COLUMNS:
        effects[_REPLY_TIME_COLUMNS[author]] = now
    if author is CommentAuthor.agent and ticket.first_response_at is None:
        effects["first_response_at"] = now
    return effects
