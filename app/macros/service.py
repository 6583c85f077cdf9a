"""Macros: canned replies with ticket changes, written by admins and used by agents on tickets."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.repository import AgentRepository
from app.auth.principal import Principal
from app.comments.schemas import CommentCreate
from app.comments.service import CommentService
from app.config import Settings
from app.contacts.repository import ContactRepository
from app.customer_links.service import issue_link as issue_customer_link
from app.customer_links.service import link_url, linkable
from app.errors import Conflict, Forbidden, Unprocessable
from app.groups.repository import GroupRepository
from app.kit.ids import new_id
from app.kit.pagination import PageParams
from app.kit.search import search_key
from app.macros.capacity import AUTOMATION_WAIT_SECONDS, REQUEST_WAIT_SECONDS, render_capacity
from app.macros.changes import ticket_update
from app.macros.rendering import Placeholders, check_template, placeholders, render, substitute, substitution
from app.macros.repository import BY_POSITION, MacroRepository
from app.macros.schemas import (
    AddFollowerAction,
    MacroAction,
    MacroCreate,
    MacroPreview,
    MacroUpdate,
    SetAssigneeAction,
    SetGroupAction,
    SetStatusAction,
)
from app.models import Comment, Macro, Ticket
from app.models.enums import ActorType, Role
from app.rules.snapshot import rules_of
from app.statuses.repository import StatusRepository
from app.tickets.service import TicketService
from app.workspaces.repository import get_workspace

STORED_ACTIONS = TypeAdapter(list[MacroAction])


async def get_macro(
    session: AsyncSession, workspace_id: UUID, macro_id: UUID, *, for_update: bool = False
) -> Macro:
    return await MacroRepository(session, workspace_id).get_or_404(macro_id, for_update=for_update)


async def list_macros(
    session: AsyncSession,
    workspace_id: UUID,
    page: PageParams,
    *,
    active: bool | None = None,
    group_id: UUID | None = None,
    q: str | None = None,
) -> tuple[list[Macro], str | None]:
    repo = MacroRepository(session, workspace_id)
    return await repo.paginate(repo.filtered(active=active, group_id=group_id, q=q), BY_POSITION, page)


async def create_macro(
    session: AsyncSession, settings: Settings, workspace_id: UUID, data: MacroCreate
) -> Macro:
    _require_content(data.body, data.actions)
    await _check_template(settings, workspace_id, data.body)
    await check_action_references(session, workspace_id, data.group_id, data.actions)
    macro = Macro(
        id=new_id(),
        search_text=search_key(data.name, data.description),
        **data.model_dump(exclude={"actions"}),
        actions=_stored(data.actions),
    )
    return await MacroRepository(session, workspace_id).add(macro)


async def update_macro(
    session: AsyncSession, settings: Settings, workspace_id: UUID, macro: Macro, data: MacroUpdate
) -> Macro:
    values = data.changes()
    if "body" in values:
        await _check_template(settings, workspace_id, values["body"])
    if "actions" in values:
        values["actions"] = _stored(data.actions)
    _require_content(values.get("body", macro.body), values.get("actions", macro.actions))
    await check_action_references(
        session, workspace_id, values.get("group_id"), data.actions if "actions" in values else []
    )
    if "name" in values or "description" in values:
        values["search_text"] = search_key(
            values.get("name", macro.name), values.get("description", macro.description)
        )
    return await MacroRepository(session, workspace_id).update(macro, values)


async def delete_macro(session: AsyncSession, workspace_id: UUID, macro: Macro) -> None:
    await MacroRepository(session, workspace_id).delete(macro)


def _require_content(body: str, actions: Sequence[Any]) -> None:
    if not body.strip() and not actions:
        raise Unprocessable("body: a macro needs a body, actions or both", field="body")


def _stored(actions: Sequence[MacroAction]) -> list[dict[str, Any]]:
    return [action.model_dump(mode="json") for action in actions]


async def _check_template(settings: Settings, workspace_id: UUID, body: str) -> None:
    # Compiling and trying a template is a render like any other.
    await render_capacity(settings.macro).run(workspace_id, REQUEST_WAIT_SECONDS, check_template, body)


async def check_action_references(
    session: AsyncSession, workspace_id: UUID, group_id: UUID | None, actions: Sequence[MacroAction]
) -> None:
    """Everything a macro names must be of the workspace, so that applying it can succeed."""
    groups = GroupRepository(session, workspace_id)
    agents = AgentRepository(session, workspace_id)
    statuses = StatusRepository(session, workspace_id)
    if group_id is not None and not await groups.exists(group_id):
        raise _unknown("group_id", "group")
    for position, action in enumerate(actions):
        field = f"actions.{position}"
        if isinstance(action, SetStatusAction) and action.status_id is not None:
            status = await statuses.get(action.status_id)
            if status is None:
                raise _unknown(f"{field}.status_id", "status")
            if not status.active:
                raise Unprocessable(
                    f"{field}.status_id: the status {status.name!r} is inactive", field=f"{field}.status_id"
                )
        elif isinstance(action, SetGroupAction) and action.group_id is not None:
            if not await groups.exists(action.group_id):
                raise _unknown(f"{field}.group_id", "group")
        elif isinstance(action, SetAssigneeAction) and action.assignee_id is not None:
            await _check_agent(agents, action.assignee_id, f"{field}.assignee_id", assignee=True)
        elif isinstance(action, AddFollowerAction):
            await _check_agent(agents, action.agent_id, f"{field}.agent_id", assignee=False)


async def _check_agent(agents: AgentRepository, agent_id: UUID, field: str, *, assignee: bool) -> None:
    agent = await agents.get(agent_id)
    if agent is None:
        raise _unknown(field, "agent")
    if not agent.active:
        raise Unprocessable(f"{field}: the agent {agent.name!r} is inactive", field=field)
    if assignee and agent.role is Role.viewer:
        raise Unprocessable(f"{field}: a viewer cannot be assigned tickets", field=field)


def _unknown(field: str, resource: str) -> Unprocessable:
    return Unprocessable(f"{field}: no such {resource}", field=field, code="unknown_reference")


# The placeholder that hands the customer a link to the ticket.
CUSTOMER_URL = "customer_url"


class MacroService:
    """Macros used on a ticket by one caller within one unit of work."""

    def __init__(self, session: AsyncSession, principal: Principal, settings: Settings) -> None:
        self.session = session
        self.principal = principal
        self.settings = settings
        self.workspace_id = principal.workspace_id
        self.repo = MacroRepository(session, principal.workspace_id)
        self.tickets = TicketService(session, principal, settings)

    async def preview(self, ticket_id: UUID, macro_id: UUID) -> MacroPreview:
        """The comment and the changes the macro would make on the ticket; nothing is written."""
        macro = await self._usable(macro_id)
        ticket = await self.tickets.get(ticket_id)
        body = await self.render_for(macro, ticket, issue_link=False)
        return MacroPreview(
            body=body, public=macro.public, actions=STORED_ACTIONS.validate_python(macro.actions)
        )

    async def apply(self, ticket_id: UUID, macro_id: UUID) -> tuple[Comment | None, Ticket]:
        """Add the rendered comment, then apply the actions: the caller's unit of work makes it all or
        nothing (a closed ticket, an action naming an agent deactivated since: no comment either)."""
        macro = await self._usable(macro_id)
        ticket = await self.tickets.get(ticket_id)
        body = await self.render_for(macro, ticket)
        comment = None
        if body:
            comment = await CommentService(self.session, self.principal, self.settings).add(
                ticket_id, CommentCreate(body=body, public=macro.public)
            )
        changes = ticket_update(STORED_ACTIONS.validate_python(macro.actions))
        if changes.changes():
            return comment, await self.tickets.update(ticket_id, changes)
        return comment, await self.tickets.get(ticket_id)

    async def _usable(self, macro_id: UUID) -> Macro:
        macro = await self.repo.get_or_404(macro_id)
        if not macro.active:
            raise Conflict("The macro is inactive", code="macro_inactive")
        agent_id = self.principal.agent_id
        # API keys act for the whole workspace; agent tokens are held to the macro's group.
        held_to_group = macro.group_id is not None and agent_id is not None
        if held_to_group and not await self.repo.is_group_member(macro.group_id, agent_id):
            raise Forbidden("The macro is limited to a group you are not in", code="macro_group_only")
        return macro

    async def render_for(self, macro: Macro, ticket: Ticket, *, issue_link: bool = True) -> str:
        """The comment text; empty for a macro without a body. A body that names `customer_url` gets a
        token of the ticket's customer link of its own (empty for a ticket its customer may not open);
        without `issue_link` (a preview) the URL shows where the token will go."""
        if not macro.body.strip():
            return ""
        customer_url = ""
        if CUSTOMER_URL in macro.body and linkable(ticket):
            portal = self.settings.portal
            customer_url = link_url(portal, "…")
            if issue_link:
                token = await issue_customer_link(self.session, portal, self.principal, ticket, replace=False)
                customer_url = link_url(portal, token)
        context = await self._placeholders(ticket, customer_url)
        pieces = substitution(macro.body)
        if pieces is not None:
            rendered = substitute(pieces, context)
        else:
            # A trigger's render is part of a change under way: it waits longer for a slot than a request.
            wait = (
                AUTOMATION_WAIT_SECONDS
                if self.principal.actor_type is ActorType.trigger
                else REQUEST_WAIT_SECONDS
            )
            renders = render_capacity(self.settings.macro)
            rendered = await renders.run(self.workspace_id, wait, render, macro.body, context)
        if not rendered.strip():
            raise Unprocessable(
                "body: the macro renders no text for this ticket", field="body", code="template_empty"
            )
        return rendered

    async def _placeholders(self, ticket: Ticket, customer_url: str) -> Placeholders:
        status = (await rules_of(self.session, self.workspace_id)).statuses.get(ticket.status_id)
        requester = (
            await ContactRepository(self.session, self.workspace_id).get(ticket.requester_id)
            if ticket.requester_id is not None
            else None
        )
        agent = (
            await AgentRepository(self.session, self.workspace_id).get(self.principal.agent_id)
            if self.principal.agent_id is not None
            else None
        )
        workspace = await get_workspace(self.session, self.workspace_id)
        return placeholders(
            ticket={
                "id": ticket.id,
                "number": ticket.number,
                "subject": ticket.subject,
                "status": status.name if status else None,
                "status_kind": ticket.status_kind,
                "priority": ticket.priority,
                "type": ticket.type,
                "channel": ticket.channel,
                "customer_url": customer_url,
            },
            requester={"name": requester.name, "email": requester.email, "phone": requester.phone}
            if requester
            else {},
            agent={"name": agent.name, "email": agent.email} if agent else {},
            workspace={"name": workspace.name if workspace else None},
        )
