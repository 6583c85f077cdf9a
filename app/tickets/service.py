"""The rules of tickets: workflow timestamps, closed and deleted tickets, sub-tickets, history."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.repository import AgentRepository
from app.auth.principal import Principal
from app.categories.repository import CategoryRepository
from app.config import Settings
from app.contacts.repository import ContactRepository
from app.contacts.service import find_or_create_contact
from app.custom_fields.validation import load_definitions, new_record_fields, validate_custom_fields
from app.errors import Conflict, NotFound, Unprocessable
from app.kit.http import check_if_match
from app.kit.ids import new_id
from app.kit.pagination import PageParams
from app.kit.search import search_key
from app.kit.time import utcnow
from app.models import Comment, Ticket, TicketHistory
from app.models.enums import AssignmentStrategy, CustomFieldEntity, LinkKind, Role, StatusKind
from app.outbox import EventType
from app.rules.snapshot import StatusRef, rules_of
from app.tickets.changes import columns_of, history_rows
from app.tickets.events import change_events, created_event, ticket_json
from app.tickets.filters import TicketFilters
from app.tickets.pipeline import ticket_pipeline
from app.tickets.repository import UNSET_AT_CREATION, TicketRepository
from app.tickets.schemas import (
    MAX_CCS,
    AssignRequest,
    ChildrenSummary,
    RequesterInline,
    TicketCreate,
    TicketUpdate,
)
from app.tickets.writes import held_writes, record_events, write_held

RESOLVED_KINDS = (StatusKind.solved, StatusKind.closed)

GROUP_COLUMNS = {
    "status": Ticket.status_id,
    "status_kind": Ticket.status_kind,
    "priority": Ticket.priority,
    "type": Ticket.type,
    "assignee": Ticket.assignee_id,
    "group": Ticket.group_id,
    "category": Ticket.category_id,
    "channel": Ticket.channel,
}


class TicketService:
    """Ticket changes made by one caller within one unit of work."""

    def __init__(self, session: AsyncSession, principal: Principal, settings: Settings) -> None:
        self.session = session
        self.principal = principal
        self.settings = settings
        self.workspace_id = principal.workspace_id
        self.repo = TicketRepository(session, principal.workspace_id)
        self.pipeline = ticket_pipeline()
        # The changes written per ticket since triggers last looked, old and new.
        self.recorded: dict[UUID, dict[str, tuple[Any, Any]]] = {}

    async def get(self, ticket_id: UUID, *, for_update: bool = False) -> Ticket:
        await write_held(self.session)
        ticket = await self.repo.get_visible(self.principal, ticket_id, for_update=for_update)
        if ticket is None:
            raise NotFound("Ticket")
        return ticket

    async def list_page(
        self, filters: TicketFilters, sort: str, page: PageParams
    ) -> tuple[list[Ticket], str | None]:
        return await self.repo.list_page(self.principal, filters, sort, page)

    async def count(self, filters: TicketFilters, group_by: str) -> list[tuple[str | None, int]]:
        counted = await self.repo.count_by(self.principal, filters, GROUP_COLUMNS[group_by])
        return [(None if key is None else str(getattr(key, "value", key)), count) for key, count in counted]

    async def children_page(self, ticket_id: UUID, page: PageParams) -> tuple[list[Ticket], str | None]:
        await self.get(ticket_id)
        return await self.repo.children_page(self.principal, ticket_id, page)

    async def history_page(self, ticket_id: UUID, page: PageParams) -> tuple[list[TicketHistory], str | None]:
        await self.get(ticket_id)
        return await self.repo.history_page(ticket_id, page)

    async def children_summary(self, ticket_id: UUID) -> ChildrenSummary:
        by_kind = await self.repo.children_by_kind(ticket_id)
        unresolved = sum(count for kind, count in by_kind.items() if kind not in RESOLVED_KINDS)
        return ChildrenSummary(total=sum(by_kind.values()), unresolved=unresolved, by_status_kind=by_kind)

    async def create(
        self, data: TicketCreate, *, conversation_id: UUID | None = None, for_customer: bool = False
    ) -> dict[str, Any]:
        """`conversation_id`: the channel conversation the ticket was opened from, where replies go;
        `for_customer`: opened for a customer's message, which is never refused for a required field."""
        status = await self._status(data.status_id, data.status_kind or StatusKind.new, field="status_id")
        now = utcnow()
        values: dict[str, Any] = {
            "id": new_id(),
            "created_at": now,
            "updated_at": now,
            "subject": data.subject,
            "description": data.description,
            "status_id": status.id,
            "status_kind": status.kind,
            "priority": data.priority,
            "type": data.type,
            "category_id": data.category_id,
            "group_id": data.group_id,
            "assignee_id": data.assignee_id,
            "requester_id": data.requester_id,
            "followers": _unique(data.followers),
            "ccs": _unique(data.ccs),
            "tags": _normalise_tags(data.tags),
            "required_skills": data.required_skills,
            "channel": data.channel,
            "external_refs": data.external_refs,
            "due_at": data.due_at,
            "parent_id": data.parent_id,
            "internal": data.internal,
            "conversation_id": conversation_id,
            "search_text": search_key(data.subject, data.description),
            "solved_at": now if status.kind in RESOLVED_KINDS else None,
            "closed_at": now if status.kind is StatusKind.closed else None,
            "automation_due_at": None,
            "automations_done": [],
        }
        if data.requester is not None:
            values["requester_id"] = await self._requester(data.requester)
        await self._check_references(values)
        values["custom_fields"] = await new_record_fields(
            self.session,
            self.principal,
            CustomFieldEntity.ticket,
            data.custom_fields,
            for_customer=for_customer,
        )
        await self.pipeline.route(self, None, values, None)
        values["assigned_at"] = now if values["assignee_id"] is not None else None
        if data.parent_id is not None:
            await self._check_parent(values["id"], data.parent_id)
        clocks = await self.pipeline.start_clocks(self, values, now, paused=status.pauses_sla)
        recorded = {
            name: value for name, value in values.items() if name not in ("id", "created_at", "updated_at")
        }
        initial = {name: (None, value) for name, value in recorded.items() if _is_set(value)}
        # The number is the database's to give; the event gets it in the same statement.
        ticket = ticket_json({**values, "number": 0, "version": 1, **dict.fromkeys(UNSET_AT_CREATION)})
        created = await self.repo.insert_numbered(
            values, history_rows(values["id"], self.principal, initial), created_event(self.principal, ticket)
        )
        if clocks:
            self.session.add_all(clocks)
            await self.session.flush()
        if not await self.pipeline.listens(self, EventType.ticket_created):
            return created
        final = await self.pipeline.after(self, EventType.ticket_created, self.repo.adopt(created), initial)
        return columns_of(final)

    async def update(
        self, ticket_id: UUID, data: TicketUpdate, *, if_match: str | None = None, force: bool = False
    ) -> Ticket:
        ticket = await self.get(ticket_id, for_update=True)
        check_if_match(if_match, ticket.version)
        return await self._after(EventType.ticket_updated, await self._apply(ticket, data, force=force))

    async def bulk_update(
        self, ticket_ids: Sequence[UUID], data: TicketUpdate, *, force: bool
    ) -> list[Ticket]:
        """The same change on every ticket, all or nothing."""
        ids = _unique(ticket_ids)
        tickets = {ticket.id: ticket for ticket in await self.repo.lock_visible(self.principal, ids)}
        updated = []
        for position, ticket_id in enumerate(ids):
            ticket = tickets.get(ticket_id)
            if ticket is None:
                field = f"ids.{position}"
                raise Unprocessable(f"{field}: no such ticket", field=field, code="unknown_reference")
            try:
                changed = await self._apply(ticket, data, force=force)
                updated.append(await self._after(EventType.ticket_updated, changed))
            except (Conflict, Unprocessable) as exc:
                exc.detail = f"ticket #{ticket.number}: {exc.detail}"
                exc.extra = {**exc.extra, "ticket_id": str(ticket_id)}
                raise
        return updated

    async def delete(self, ticket_id: UUID, *, if_match: str | None = None) -> None:
        ticket = await self.get(ticket_id, for_update=True)
        check_if_match(if_match, ticket.version)
        if ticket.deleted_at is None:
            await self._write(ticket, {"deleted_at": utcnow()}, kind=EventType.ticket_deleted)

    async def restore(self, ticket_id: UUID) -> Ticket:
        ticket = await self.get(ticket_id, for_update=True)
        if ticket.deleted_at is None:
            return ticket
        restored = await self._write(ticket, {"deleted_at": None}, kind=EventType.ticket_restored)
        return await self._after(EventType.ticket_updated, restored)

    async def reopen(self, ticket_id: UUID) -> Ticket:
        """Back to the default open status: the one way to change a closed ticket."""
        ticket = await self.get(ticket_id, for_update=True)
        _refuse_if_deleted(ticket)
        if ticket.status_kind not in RESOLVED_KINDS:
            raise Conflict("Only a solved or closed ticket can be reopened", code="ticket_not_resolved")
        status = await self._status(None, StatusKind.open, field="status_id")
        reopened = await self._write(ticket, {"status_id": status.id, **_status_values(ticket, status)})
        return await self._after(EventType.ticket_updated, reopened)

    async def assign(self, ticket_id: UUID, data: AssignRequest, *, if_match: str | None = None) -> Ticket:
        ticket = await self.get(ticket_id, for_update=True)
        check_if_match(if_match, ticket.version)
        # Without an agent, the assignee is cleared and the group (the new one, if given) chooses.
        change = {"assignee_id": data.agent_id, **({"group_id": data.group_id} if data.group_id else {})}
        assigned = await self._apply(ticket, TicketUpdate(**change), force=False, strategy=data.strategy)
        return await self._after(EventType.ticket_updated, assigned)

    async def unassign(self, ticket_id: UUID, *, if_match: str | None = None) -> Ticket:
        ticket = await self.get(ticket_id, for_update=True)
        check_if_match(if_match, ticket.version)
        unassigned = await self._apply(ticket, TicketUpdate(assignee_id=None), force=False)
        return await self._after(EventType.ticket_updated, unassigned)

    async def change(
        self, ticket: Ticket, data: TicketUpdate, *, strategy: AssignmentStrategy | None = None
    ) -> Ticket:
        """A change made by automation: the rules and history of a caller's change; the caller runs the
        triggers it fires."""
        return await self._apply(ticket, data, force=False, strategy=strategy)

    async def copy_in(self, ticket: Ticket, contact_ids: Sequence[UUID]) -> Ticket:
        """Add contacts a customer copied to the CCs, as far as there is room (their message is never
        refused for copying many), leaving out the requester; the caller runs the triggers."""
        added = [
            contact_id
            for contact_id in _unique(contact_ids)
            if contact_id not in ticket.ccs and contact_id != ticket.requester_id
        ][: max(MAX_CCS - len(ticket.ccs), 0)]
        if not added:
            return ticket
        return await self._apply(ticket, TicketUpdate(add_ccs=added), force=False)

    async def after_comment(self, ticket: Ticket, comment: Comment) -> Ticket:
        """Run the triggers of a comment just added, with the changes it made to the ticket."""
        changes = self.recorded.pop(ticket.id, {})
        return await self.pipeline.after(
            self, EventType.ticket_comment_added, ticket, changes, comment=comment
        )

    async def _after(self, event: EventType, ticket: Ticket) -> Ticket:
        """Run the triggers of the change just written to the ticket, if it changed."""
        changes = self.recorded.pop(ticket.id, {})
        if not changes:
            return ticket
        return await self.pipeline.after(self, event, ticket, changes)

    async def _apply(
        self, ticket: Ticket, data: TicketUpdate, *, force: bool, strategy: AssignmentStrategy | None = None
    ) -> Ticket:
        _refuse_if_deleted(ticket)
        if ticket.status_kind is StatusKind.closed:
            raise Conflict(
                "A closed ticket cannot be changed; reopen it first (POST /v1/tickets/{id}/reopen)",
                code="ticket_closed",
            )
        sent = data.changes()
        values: dict[str, Any] = {}
        for name in (
            "subject", "description", "priority", "type", "category_id", "group_id", "assignee_id",
            "requester_id", "required_skills", "external_refs", "due_at", "parent_id", "internal",
        ):  # fmt: skip
            if name in sent:
                values[name] = getattr(data, name)
        if "subject" in values or "description" in values:
            values["search_text"] = search_key(
                values.get("subject", ticket.subject), values.get("description", ticket.description)
            )
        if data.requester is not None:
            values["requester_id"] = await self._requester(data.requester)
        if "status_id" in sent or "status_kind" in sent:
            status = await self._status(data.status_id, data.status_kind, field="status_id")
            values["status_id"] = status.id
            values.update(_status_values(ticket, status))
        values.update(_edited_lists(ticket, data, sent))
        if "custom_fields" in sent:
            definitions = await load_definitions(self.session, self.workspace_id, CustomFieldEntity.ticket)
            values["custom_fields"] = validate_custom_fields(
                definitions, data.custom_fields, current=ticket.custom_fields
            )
        await self.pipeline.route(self, ticket, values, strategy)
        changed = {name: value for name, value in values.items() if getattr(ticket, name) != value}
        if not changed:
            return ticket
        added_followers = [agent for agent in changed.get("followers", []) if agent not in ticket.followers]
        added_ccs = [contact for contact in changed.get("ccs", []) if contact not in ticket.ccs]
        await self._check_references({**changed, "followers": added_followers, "ccs": added_ccs})
        if changed.get("parent_id") is not None:
            await self._check_parent(ticket.id, changed["parent_id"])
        if not force:
            await self._refuse_unresolved_children(ticket, changed)
        return await self._write(ticket, changed)

    async def _refuse_unresolved_children(self, ticket: Ticket, changed: dict[str, Any]) -> None:
        if changed.get("status_kind") not in RESOLVED_KINDS or ticket.status_kind in RESOLVED_KINDS:
            return
        unresolved = await self.repo.count_unresolved_children(ticket.id)
        if unresolved:
            raise Conflict(
                f"The ticket has {unresolved} unresolved sub-tickets; solve them first or pass force=true",
                code="unresolved_children",
                extra={"unresolved_children": unresolved},
            )

    async def apply_changes(
        self,
        ticket: Ticket,
        values: dict[str, Any],
        *,
        status_id: UUID | None = None,
        status_kind: StatusKind | None = None,
    ) -> Ticket:
        """Changes the service makes (for a new comment, a merge), with history and events; `updated_at`
        moves even when nothing else does."""
        if status_id is not None or status_kind is not None:
            status = await self._status(status_id, status_kind, field="status_id")
            values = {**values, "status_id": status.id, **_status_values(ticket, status)}
        changed = {name: value for name, value in values.items() if getattr(ticket, name) != value}
        if not changed:
            held = held_writes(self.session)
            if held is None:
                return await self.repo.update_values(ticket, {})
            held.change(ticket, {}, [])
            return ticket
        await self._refuse_unresolved_children(ticket, changed)
        return await self._write(ticket, changed)

    async def close_as_merged(self, source: Ticket, into_id: UUID) -> Ticket:
        status = await self._status(None, StatusKind.closed, field="status_id")
        changed = {"merged_into_id": into_id, "status_id": status.id, **_status_values(source, status)}
        return await self._write(source, changed)

    async def open_follow_up(self, closed: Ticket) -> Ticket:
        """A new ticket for a customer writing on a closed one, linked to it as a follow-up."""
        created = await self.create(
            TicketCreate(
                subject=closed.subject,
                requester_id=closed.requester_id,
                priority=closed.priority,
                type=closed.type,
                category_id=closed.category_id,
                group_id=closed.group_id,
                channel=closed.channel,
            ),
            conversation_id=closed.conversation_id,
            for_customer=True,
        )
        await self.repo.add_link(created["id"], closed.id, LinkKind.follow_up_of)
        return await self.get(created["id"], for_update=True)

    async def _write(
        self, ticket: Ticket, changed: dict[str, Any], *, kind: EventType = EventType.ticket_updated
    ) -> Ticket:
        """Apply the change with its history and its events, in this transaction."""
        now = utcnow()
        if "assignee_id" in changed:
            changed = {**changed, "assigned_at": now if changed["assignee_id"] is not None else None}
        changed = {**changed, **await self.pipeline.move_clocks(self, ticket, changed, now)}
        before = ticket_json(ticket)
        old = {name: getattr(ticket, name) for name in changed}
        recorded = self.recorded.setdefault(ticket.id, {})
        for name, value in changed.items():
            recorded[name] = (recorded[name][0] if name in recorded else old[name], value)
        history = history_rows(
            ticket.id, self.principal, {name: (old[name], changed[name]) for name in changed}
        )
        held = held_writes(self.session)
        if held is not None:
            held.change(ticket, changed, history)
            updated = ticket
        else:
            await self.repo.add_history(history)
            updated = await self.repo.update_values(ticket, changed)
        events = change_events(self.principal, before, ticket_json(updated), kind=kind, ticket=updated)
        await record_events(self.session, self.principal, events)
        return updated

    async def _status(self, status_id: UUID | None, kind: StatusKind | None, *, field: str) -> StatusRef:
        status = (await rules_of(self.session, self.workspace_id)).status(status_id, kind)
        if status is None:
            raise Unprocessable(f"{field}: no such status", field=field, code="unknown_reference")
        if not status.active:
            raise Unprocessable(f"{field}: the status {status.name!r} is inactive", field=field)
        return status

    async def _requester(self, requester: RequesterInline) -> UUID:
        contact = await find_or_create_contact(
            self.session,
            self.principal,
            email=requester.email,
            phone=requester.phone,
            name=requester.name,
            default_phone_region=self.settings.default_phone_region,
        )
        return contact.id

    async def _check_references(self, values: dict[str, Any]) -> None:
        """Rules the foreign keys cannot state; plain existence is left to them."""
        agent_ids = _unique([*values.get("followers", []), *filter(None, [values.get("assignee_id")])])
        if agent_ids:
            agents = {
                agent.id: agent
                for agent in await AgentRepository(self.session, self.workspace_id).get_many(agent_ids)
            }
            for agent_id in agent_ids:
                field = "assignee_id" if agent_id == values.get("assignee_id") else "followers"
                agent = agents.get(agent_id)
                if agent is None:
                    raise Unprocessable(f"{field}: no such agent", field=field, code="unknown_reference")
                if not agent.active:
                    raise Unprocessable(f"{field}: the agent {agent.name!r} is inactive", field=field)
                if field == "assignee_id" and agent.role is Role.viewer:
                    raise Unprocessable("assignee_id: a viewer cannot be assigned tickets", field=field)
        if values.get("ccs"):
            await self._check_ccs(values["ccs"])
        if values.get("category_id") is not None:
            category = await CategoryRepository(self.session, self.workspace_id).get(values["category_id"])
            if category is None:
                raise Unprocessable(
                    "category_id: no such category", field="category_id", code="unknown_reference"
                )
            if not category.active:
                raise Unprocessable(
                    f"category_id: the category {category.name!r} is inactive", field="category_id"
                )

    async def _check_ccs(self, contact_ids: Sequence[UUID]) -> None:
        """CCs are contacts of the workspace that replies can be copied to."""
        contacts = {
            contact.id: contact
            for contact in await ContactRepository(self.session, self.workspace_id).get_many(contact_ids)
        }
        for contact_id in contact_ids:
            contact = contacts.get(contact_id)
            if contact is None:
                raise Unprocessable(
                    f"ccs: no such contact {contact_id}", field="ccs", code="unknown_reference"
                )
            if contact.email is None:
                named = contact.name or contact_id
                raise Unprocessable(f"ccs: the contact {named} has no email address", field="ccs")

    async def _check_parent(self, ticket_id: UUID, parent_id: UUID) -> None:
        parent = await self.repo.get_visible(self.principal, parent_id)
        if parent is None:
            raise Unprocessable("parent_id: no such ticket", field="parent_id", code="unknown_reference")
        if ticket_id in await self.repo.ancestor_ids(parent_id):
            raise Unprocessable(
                "parent_id: a ticket cannot be its own ancestor", field="parent_id", code="cycle"
            )


def _refuse_if_deleted(ticket: Ticket) -> None:
    if ticket.deleted_at is not None:
        raise Conflict("The ticket is deleted; restore it first", code="ticket_deleted")


def _status_values(ticket: Ticket, status: StatusRef) -> dict[str, Any]:
    """`solved_at` and `closed_at` follow the status: set on entering, cleared on leaving."""
    now = utcnow()
    solved_at: datetime | None = ticket.solved_at
    closed_at: datetime | None = ticket.closed_at
    if status.kind in RESOLVED_KINDS:
        solved_at = solved_at if ticket.status_kind in RESOLVED_KINDS else now
    else:
        solved_at = None
    closed_at = (closed_at or now) if status.kind is StatusKind.closed else None
    return {"status_kind": status.kind, "solved_at": solved_at, "closed_at": closed_at}


def _edited_lists(ticket: Ticket, data: TicketUpdate, sent: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "tags" in sent:
        values["tags"] = _normalise_tags(data.tags)
    elif "add_tags" in sent or "remove_tags" in sent:
        removed = set(_normalise_tags(data.remove_tags or []))
        values["tags"] = [
            tag for tag in _normalise_tags([*ticket.tags, *(data.add_tags or [])]) if tag not in removed
        ]
    if "followers" in sent:
        values["followers"] = _unique(data.followers)
    elif "add_followers" in sent or "remove_followers" in sent:
        removed_ids = set(data.remove_followers or [])
        values["followers"] = [
            agent
            for agent in _unique([*ticket.followers, *(data.add_followers or [])])
            if agent not in removed_ids
        ]
    if "ccs" in sent:
        values["ccs"] = _unique(data.ccs)
    elif "add_ccs" in sent or "remove_ccs" in sent:
        removed_ccs = set(data.remove_ccs or [])
        values["ccs"] = [
            contact for contact in _unique([*ticket.ccs, *(data.add_ccs or [])]) if contact not in removed_ccs
        ]
        if len(values["ccs"]) > MAX_CCS:
            raise Unprocessable(f"add_ccs: a ticket has at most {MAX_CCS} CCs", field="add_ccs")
    return values


def _normalise_tags(tags: Sequence[str]) -> list[str]:
    return _unique([tag.lower() for tag in tags])


def _unique(items: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


def _is_set(value: Any) -> bool:
    return value is not None and value != [] and value != {} and value is not False
