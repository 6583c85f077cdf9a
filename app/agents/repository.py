from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import ColumnElement, Select, select, update

from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.kit.search import like_pattern, search_terms
from app.kit.time import utcnow
from app.models import Agent, GroupMember
from app.models.enums import Availability, Role

BY_NAME = Keyset("name", [SortColumn(Agent.name), SortColumn(Agent.id)])


class AgentRepository(ScopedRepository[Agent]):
    model = Agent
    resource = "Agent"

    def filtered(
        self,
        *,
        active: bool | None = None,
        role: Role | None = None,
        availability: Availability | None = None,
        group_id: UUID | None = None,
        q: str | None = None,
    ) -> Select[tuple[Agent]]:
        statement = self.select()
        if active is not None:
            statement = statement.where(Agent.active == active)
        if role is not None:
            statement = statement.where(Agent.role == role)
        if availability is not None:
            statement = statement.where(Agent.availability == availability)
        if group_id is not None:
            members = select(GroupMember.agent_id).where(
                GroupMember.workspace_id == self.workspace_id, GroupMember.group_id == group_id
            )
            statement = statement.where(Agent.id.in_(members))
        for term in search_terms(q or ""):
            statement = statement.where(Agent.search_text.like(like_pattern(term)))
        return statement

    async def group_ids_by_agent(self, agent_ids: Sequence[UUID]) -> dict[UUID, list[UUID]]:
        """The groups of each agent, for a whole page at once."""
        if not agent_ids:
            return {}
        statement = (
            select(GroupMember.agent_id, GroupMember.group_id)
            .where(GroupMember.workspace_id == self.workspace_id, GroupMember.agent_id.in_(agent_ids))
            .order_by(GroupMember.agent_id, GroupMember.group_id)
        )
        groups: dict[UUID, list[UUID]] = {}
        for agent_id, group_id in await self.session.execute(statement):
            groups.setdefault(agent_id, []).append(group_id)
        return groups

    async def touch(self, agent_id: UUID) -> None:
        """Bump the version of an agent whose groups changed, so that its ETag follows `group_ids`."""
        await self._touch(Agent.id == agent_id)

    async def touch_members_of(self, group_id: UUID) -> None:
        members = select(GroupMember.agent_id).where(
            GroupMember.workspace_id == self.workspace_id, GroupMember.group_id == group_id
        )
        await self._touch(Agent.id.in_(members))

    async def _touch(self, which: ColumnElement[bool]) -> None:
        await self.session.execute(
            update(Agent)
            .where(Agent.workspace_id == self.workspace_id, which)
            .values(version=Agent.version + 1, updated_at=utcnow())
        )
