"""Assignment in the ticket change pipeline: the assignee stays a member of the ticket's group, and a
group that assigns automatically chooses one for a ticket that has none. And an agent who stops taking
work gives back the tickets of groups that ask for it."""

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.hooks import AgentHook
from app.assignment.service import Assigner
from app.assignment.tasks import release_tickets
from app.auth.principal import Principal
from app.config import Settings
from app.errors import Unprocessable
from app.kit.repository import exists_in_workspace
from app.models import Agent, Ticket
from app.models.enums import AssignmentStrategy
from app.rules.snapshot import rules_of
from app.tickets.pipeline import TicketHook
from app.tickets.service import RESOLVED_KINDS, TicketService


class AssignmentHook(TicketHook):
    async def route(
        self,
        service: TicketService,
        ticket: Ticket | None,
        values: dict[str, Any],
        strategy: AssignmentStrategy | None,
    ) -> None:
        """`values` are the new ticket's, or the changes to `ticket`; the assignee chosen is added to them."""

        def current(name: str) -> Any:
            return values[name] if name in values else getattr(ticket, name, None)

        group_id = current("group_id")
        if group_id is None:
            return
        assigner = Assigner(service.session, service.workspace_id)
        group_moved = ticket is None or group_id != ticket.group_id
        assignee_sent = "assignee_id" in values
        assignee_id = current("assignee_id")
        if assignee_id is not None and (group_moved or assignee_sent):
            if await assigner.is_member(group_id, assignee_id):
                return
            if group_id not in (await rules_of(service.session, service.workspace_id)).groups:
                raise Unprocessable("group_id: no such group", field="group_id", code="unknown_reference")
            if assignee_sent:
                if not await exists_in_workspace(service.session, Agent, service.workspace_id, assignee_id):
                    raise Unprocessable(
                        "assignee_id: no such agent", field="assignee_id", code="unknown_reference"
                    )
                raise Unprocessable(
                    "assignee_id: the agent is not a member of the ticket's group",
                    field="assignee_id",
                    code="agent_not_in_group",
                )
            # The ticket moved to a group its assignee is not in: the new group chooses.
            assignee_id = values["assignee_id"] = None
        if assignee_id is not None or current("status_kind") in RESOLVED_KINDS:
            return
        if group_moved or assignee_sent or strategy is not None:
            previous = getattr(ticket, "assignee_id", None)
            values["assignee_id"] = await assigner.choose(
                group_id,
                required_skills=current("required_skills") or (),
                strategy=strategy,
                exclude=[previous] if previous is not None and not group_moved else [],
            )


class ReleaseHook(AgentHook):
    async def stopped_working(
        self, session: AsyncSession, principal: Principal, settings: Settings, agent_id: UUID
    ) -> None:
        await release_tickets(session, principal, settings, agent_id)
