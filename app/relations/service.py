"""Tickets in relation to others: links, sub-tickets made from a parent, and merges.

A package above the tickets, the comments and the attachments: a sub-ticket starts with a note, and a
merge moves the source's comments and attachments to the target."""

from uuid import UUID

from app.attachments.service import move_to_ticket
from app.comments.repository import CommentRepository
from app.comments.schemas import CommentCreate
from app.comments.service import CommentService
from app.errors import Conflict, NotFound, Unprocessable
from app.kit.pagination import PageParams
from app.kit.texts import text
from app.models import Ticket, TicketLink
from app.models.enums import StatusKind
from app.outbox import EventType, event_row, record
from app.tickets.changes import history_rows
from app.tickets.events import ticket_json
from app.tickets.schemas import MAX_CCS, ChildCreate, LinkCreate, TicketCreate
from app.tickets.service import TicketService
from app.workspaces.repository import get_locale


class TicketRelations:
    def __init__(self, tickets: TicketService) -> None:
        self.tickets = tickets
        self.repo = tickets.repo

    async def links_page(self, ticket_id: UUID, page: PageParams) -> tuple[list[TicketLink], str | None]:
        await self.tickets.get(ticket_id)
        return await self.repo.links_page(ticket_id, page)

    async def link(self, ticket_id: UUID, data: LinkCreate) -> TicketLink:
        await self.tickets.get(ticket_id)
        if data.ticket_id == ticket_id:
            raise Unprocessable("ticket_id: a ticket cannot be linked to itself", field="ticket_id")
        await self._other(data.ticket_id, field="ticket_id")
        link = await self.repo.add_link(ticket_id, data.ticket_id, data.kind)
        if link is None:
            raise Conflict("The tickets are linked so already", code="already_exists")
        return link

    async def unlink(self, ticket_id: UUID, link_id: UUID) -> None:
        await self.tickets.get(ticket_id)
        if not await self.repo.remove_link(ticket_id, link_id):
            raise NotFound("Link")

    async def add_child(self, parent_id: UUID, data: ChildCreate, settings) -> dict:
        parent = await self.tickets.get(parent_id)
        if parent.deleted_at is not None:
            raise Conflict("The ticket is deleted; restore it first", code="ticket_deleted")
        child = await self.tickets.create(
            TicketCreate(
                subject=data.subject,
                description=data.description,
                priority=data.priority or parent.priority,
                type=data.type,
                category_id=data.category_id or parent.category_id,
                group_id=data.group_id,
                assignee_id=data.assignee_id,
                requester_id=parent.requester_id,
                tags=data.tags,
                custom_fields=data.custom_fields,
                due_at=data.due_at,
                parent_id=parent.id,
            )
        )
        locale = await get_locale(self.tickets.session, self.tickets.workspace_id)
        note = CommentCreate(
            body=text(locale, "sub_ticket_note", number=parent.number, subject=parent.subject), public=False
        )
        await CommentService(self.tickets.session, self.tickets.principal, settings).add(child["id"], note)
        return child

    async def merge(self, source_id: UUID, into_id: UUID) -> tuple[Ticket, Ticket]:
        """The source's conversation moves to the target, followers, CCs and tags are united, and the source
        is closed as merged; later messages to the source land on the target."""
        if into_id == source_id:
            raise Unprocessable("into: a ticket cannot be merged into itself", field="into")
        # Locked in id order, so that two merges of the same pair cannot deadlock.
        for ticket_id in sorted([source_id, into_id]):
            if ticket_id == into_id:
                await self._other(into_id, field="into", for_update=True)
            else:
                await self.tickets.get(source_id, for_update=True)
        source = await self.tickets.get(source_id)
        target = await self.tickets.get(into_id)
        for ticket, role in ((source, "ticket"), (target, "into")):
            if ticket.deleted_at is not None:
                raise Conflict(f"{role}: the ticket is deleted", code="ticket_deleted")
            if ticket.merged_into_id is not None:
                raise Conflict(f"{role}: the ticket was already merged into another", code="ticket_merged")
        if source.id in await self.repo.ancestor_ids(target.id):
            raise Unprocessable("into: a ticket cannot be merged into its own sub-ticket", field="into")
        if target.status_kind is StatusKind.closed:
            raise Conflict(
                "into: a closed ticket cannot receive a merge; reopen it first", code="ticket_closed"
            )
        workspace_id = self.tickets.workspace_id
        await CommentRepository(self.tickets.session, workspace_id).move(source.id, target.id)
        await move_to_ticket(self.tickets.session, workspace_id, source.id, target.id)
        united = {
            "followers": list(dict.fromkeys([*target.followers, *source.followers])),
            "ccs": list(dict.fromkeys([*target.ccs, *source.ccs]))[:MAX_CCS],
            "tags": list(dict.fromkeys([*target.tags, *source.tags])),
        }
        target = await self.tickets.apply_changes(target, united)
        principal = self.tickets.principal
        await self.repo.add_history(history_rows(target.id, principal, {"merged_from": (None, source.id)}))
        source = await self.tickets.close_as_merged(source, target.id)
        data = {"ticket": ticket_json(source), "into": ticket_json(target)}
        await record(
            self.tickets.session, principal, [event_row(principal, EventType.ticket_merged, source.id, data)]
        )
        return source, target

    async def _other(self, ticket_id: UUID, *, field: str, for_update: bool = False) -> Ticket:
        ticket = await self.repo.get_visible(self.tickets.principal, ticket_id, for_update=for_update)
        if ticket is None:
            raise Unprocessable(f"{field}: no such ticket", field=field, code="unknown_reference")
        return ticket
