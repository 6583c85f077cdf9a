"""The queries of assignment: a group's agents who can take a ticket, their load, the waiting tickets."""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, ScalarSelect, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Agent, Group, GroupMember, Ticket, TicketStatus
from app.models.enums import AssignmentStrategy, Availability, Role
from app.tickets.repository import UNRESOLVED_KINDS


class Unlocked(enum.Enum):
    """Why an agent could not be locked for an assignment."""

    held_elsewhere = "held_elsewhere"
    unavailable = "unavailable"


@dataclass(frozen=True, slots=True)
class Candidate:
    agent_id: UUID
    capacity: int
    load: int
    skills: list[str]
    last_assigned_at: datetime | None


def waiting(workspace_id: UUID | None = None) -> ColumnElement[bool]:
    """Tickets in a group, unassigned and unresolved: what the group still has to hand out."""
    condition = (
        Ticket.assignee_id.is_(None)
        & Ticket.group_id.is_not(None)
        & Ticket.deleted_at.is_(None)
        & Ticket.status_kind.in_(UNRESOLVED_KINDS)
    )
    return condition if workspace_id is None else condition & (Ticket.workspace_id == workspace_id)


def _load_of(agent_id: ColumnElement[UUID]) -> ScalarSelect[int]:
    """The agent's tickets whose SLA runs: unresolved, in a status that does not pause the clocks."""
    return (
        select(func.count())
        .select_from(Ticket)
        .join(
            TicketStatus,
            (TicketStatus.workspace_id == Ticket.workspace_id) & (TicketStatus.id == Ticket.status_id),
        )
        .where(
            Ticket.workspace_id == bindparam("workspace_id"),
            Ticket.assignee_id == agent_id,
            Ticket.deleted_at.is_(None),
            Ticket.status_kind.in_(UNRESOLVED_KINDS),
            TicketStatus.pauses_sla.is_(False),
        )
        .scalar_subquery()
    )


# Every automatic assignment runs these: built once, since building a statement costs more than running it.
_CANDIDATES = (
    select(Agent.id, Agent.capacity, _load_of(Agent.id), Agent.skills, GroupMember.last_assigned_at)
    .join(GroupMember, (GroupMember.workspace_id == Agent.workspace_id) & (GroupMember.agent_id == Agent.id))
    .where(
        GroupMember.workspace_id == bindparam("workspace_id"),
        GroupMember.group_id == bindparam("group_id"),
        Agent.active,
        Agent.role != Role.viewer,
        Agent.availability.in_(bindparam("available", expanding=True)),
        Agent.capacity > 0,
        # Every agent has no skills at all; every agent is outside an empty list.
        Agent.skills.contains(bindparam("required_skills", type_=Agent.skills.type)),
        Agent.id.not_in(bindparam("exclude", expanding=True)),
    )
)
_AGENT = select(Agent.capacity, Agent.active, Agent.availability).where(
    Agent.workspace_id == bindparam("workspace_id"), Agent.id == bindparam("agent_id")
)
_LOCK_AGENT = _AGENT.with_for_update(key_share=True)
_LOCK_AGENT_UNLESS_HELD = _AGENT.with_for_update(key_share=True, skip_locked=True)
_STANDING = select(
    _load_of(bindparam("agent_id", type_=Agent.id.type)),
    select(GroupMember.last_assigned_at)
    .where(
        GroupMember.workspace_id == bindparam("workspace_id"),
        GroupMember.group_id == bindparam("group_id"),
        GroupMember.agent_id == bindparam("agent_id"),
    )
    .scalar_subquery(),
)
# Not named like columns, or UPDATE would also SET the columns from them.
_MARK_ASSIGNED = (
    update(GroupMember)
    .where(
        GroupMember.workspace_id == bindparam("scope_workspace_id"),
        GroupMember.group_id == bindparam("scope_group_id"),
        GroupMember.agent_id == bindparam("scope_agent_id"),
    )
    .values(last_assigned_at=bindparam("at"))
)


class AssignmentRepository:
    def __init__(self, session: AsyncSession, workspace_id: UUID) -> None:
        self.session = session
        self.workspace_id = workspace_id

    async def candidates(
        self,
        group_id: UUID,
        *,
        available: Sequence[Availability],
        required_skills: Sequence[str],
        exclude: Sequence[UUID],
    ) -> list[Candidate]:
        """The group's active agents who are available and could work the ticket, with their load."""
        parameters = {
            "workspace_id": self.workspace_id,
            "group_id": group_id,
            "available": list(available),
            "required_skills": list(required_skills),
            "exclude": list(exclude),
        }
        return [Candidate(*row) for row in await self.session.execute(_CANDIDATES, parameters)]

    async def lock_agent(
        self, agent_id: UUID, available: Sequence[Availability], *, wait: bool
    ) -> int | Unlocked:
        """Lock the agent, unless (without `wait`) another transaction holds them; their capacity, or
        why they cannot take a ticket.

        The lock makes assignments to one agent happen one after another, across groups; what the
        agent carries is counted after it is held (`standing`), so it includes every assignment
        committed before.
        """
        statement = _LOCK_AGENT if wait else _LOCK_AGENT_UNLESS_HELD
        parameters = {"workspace_id": self.workspace_id, "agent_id": agent_id}
        row = (await self.session.execute(statement, parameters)).one_or_none()
        if row is None:
            return Unlocked.held_elsewhere
        capacity, active, availability = row
        if not active or availability not in available:
            return Unlocked.unavailable
        return capacity

    async def standing(self, group_id: UUID, agent_id: UUID) -> tuple[int, datetime | None]:
        """The agent's load and when the group last gave them a ticket, as committed now."""
        parameters = {"workspace_id": self.workspace_id, "group_id": group_id, "agent_id": agent_id}
        load, last_assigned_at = (await self.session.execute(_STANDING, parameters)).one()
        return load, last_assigned_at

    async def mark_assigned(self, group_id: UUID, agent_id: UUID, at: datetime) -> None:
        parameters = {
            "scope_workspace_id": self.workspace_id,
            "scope_group_id": group_id,
            "scope_agent_id": agent_id,
            "at": at,
        }
        await self.session.execute(_MARK_ASSIGNED, parameters)

    async def waiting_tickets(self, group_id: UUID, limit: int) -> list[Ticket]:
        """The group's oldest waiting tickets, locked; those another transaction holds are skipped."""
        statement = (
            select(Ticket)
            .where(waiting(self.workspace_id), Ticket.group_id == group_id)
            .order_by(Ticket.created_at, Ticket.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self.session.execute(statement)).scalars())

    async def running_tickets_in_releasing_groups(self, agent_id: UUID) -> list[Ticket]:
        """The agent's unresolved tickets in groups that take tickets back when their agent goes offline."""
        releasing = select(Group.id).where(Group.workspace_id == self.workspace_id, Group.reassign_on_offline)
        statement = (
            select(Ticket)
            .where(
                Ticket.workspace_id == self.workspace_id,
                Ticket.assignee_id == agent_id,
                Ticket.deleted_at.is_(None),
                Ticket.status_kind.in_(UNRESOLVED_KINDS),
                Ticket.group_id.in_(releasing),
            )
            .order_by(Ticket.created_at, Ticket.id)
            .with_for_update()
        )
        return list((await self.session.execute(statement)).scalars())

    async def is_member(self, group_id: UUID, agent_id: UUID) -> bool:
        statement = select(GroupMember.agent_id).where(
            GroupMember.workspace_id == self.workspace_id,
            GroupMember.group_id == group_id,
            GroupMember.agent_id == agent_id,
        )
        return (await self.session.execute(statement)).first() is not None


async def groups_with_waiting_tickets(session: AsyncSession) -> list[tuple[UUID, UUID]]:
    """(workspace, group) of every group that assigns automatically and has tickets waiting."""
    statement = (
        select(Ticket.workspace_id, Ticket.group_id)
        .join(Group, (Group.workspace_id == Ticket.workspace_id) & (Group.id == Ticket.group_id))
        .where(waiting(), Group.assignment_strategy != AssignmentStrategy.manual)
        .distinct()
    )
    return [(workspace_id, group_id) for workspace_id, group_id in await session.execute(statement)]
