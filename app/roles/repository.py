from sqlalchemy import select

from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.models import Agent, AgentRole

BY_NAME = Keyset("name", [SortColumn(AgentRole.name), SortColumn(AgentRole.id)])


class RoleRepository(ScopedRepository[AgentRole]):
    model = AgentRole
    resource = "Role"

    async def in_use(self, role: AgentRole) -> bool:
        statement = select(Agent.id).where(
            Agent.workspace_id == self.workspace_id, Agent.custom_role_id == role.id
        )
        return await self.session.scalar(statement.limit(1)) is not None
