"""Assignment outside a ticket's own change: tickets waiting in a group, tickets of an agent who left."""

import logging
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.assignment.repository import AssignmentRepository, groups_with_waiting_tickets
from app.assignment.service import Assigner
from app.auth.principal import Principal
from app.config import Settings
from app.db import Database
from app.models.enums import ActorType, NotificationKind, Role
from app.notifications.service import NotificationService
from app.tickets.service import TicketService

logger = logging.getLogger(__name__)

# Tickets locked and assigned per transaction.
BATCH = 50


async def release_tickets(
    session: AsyncSession, principal: Principal, settings: Settings, agent_id: UUID
) -> int:
    """Unassign an agent's unresolved tickets in the groups that take them back; returns how many.

    The groups hand them out again after this transaction commits (`assign_waiting`): choosing now,
    while this transaction holds the departing agent, could deadlock with assignments under way.
    """
    tickets = await AssignmentRepository(session, principal.workspace_id).running_tickets_in_releasing_groups(
        agent_id
    )
    service = TicketService(session, principal, settings)
    for ticket in tickets:
        await service.apply_changes(ticket, {"assignee_id": None})
    return len(tickets)


async def assign_waiting(db: Database, settings: Settings) -> int:
    """Hand the tickets waiting in groups that assign automatically to agents who can take them now.

    Oldest first; a group is left as soon as nobody in it can take a ticket that needs no particular
    skill. Returns how many tickets were assigned.
    """
    async with db.sessionmaker() as session:
        groups = await groups_with_waiting_tickets(session)
    assigned = 0
    for workspace_id, group_id in groups:
        try:
            assigned += await _assign_group(db, settings, workspace_id, group_id)
        except Exception:
            logger.exception("assigning the waiting tickets of group %s failed", group_id)
    return assigned


async def _assign_group(db: Database, settings: Settings, workspace_id: UUID, group_id: UUID) -> int:
    assigned = 0
    while True:
        async with db.sessionmaker() as session, session.begin():
            system = Principal(workspace_id, Role.admin, ActorType.system, group_id)
            service = TicketService(session, system, settings)
            notifications = NotificationService(session, workspace_id)
            assigner = Assigner(session, workspace_id)
            tickets = await AssignmentRepository(session, workspace_id).waiting_tickets(group_id, BATCH)
            for ticket in tickets:
                agent_id = await assigner.choose(group_id, required_skills=ticket.required_skills)
                if agent_id is None:
                    if ticket.required_skills:
                        continue  # others may need skills that someone free has
                    return assigned
                await service.apply_changes(ticket, {"assignee_id": agent_id})
                await notifications.notify(system, ticket, [(agent_id, NotificationKind.assigned)])
                assigned += 1
        if len(tickets) < BATCH:
            return assigned
