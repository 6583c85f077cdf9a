from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict
from app.kit.ids import new_id
from app.models import AgentRole
from app.roles.repository import RoleRepository
from app.roles.schemas import RoleCreate, RoleUpdate


async def get_role(
    session: AsyncSession, workspace_id: UUID, role_id: UUID, *, for_update: bool = False
) -> AgentRole:
    return await RoleRepository(session, workspace_id).get_or_404(role_id, for_update=for_update)


async def create_role(session: AsyncSession, workspace_id: UUID, data: RoleCreate) -> AgentRole:
    values = data.model_dump()
    values["permissions"] = [permission.value for permission in data.permissions]
    return await RoleRepository(session, workspace_id).add(AgentRole(id=new_id(), **values))


async def update_role(
    session: AsyncSession, workspace_id: UUID, role: AgentRole, data: RoleUpdate
) -> AgentRole:
    values = data.changes()
    if "permissions" in values:
        values["permissions"] = [permission.value for permission in data.permissions]
    return await RoleRepository(session, workspace_id).update(role, values)


async def delete_role(session: AsyncSession, workspace_id: UUID, role: AgentRole) -> None:
    repo = RoleRepository(session, workspace_id)
    if await repo.in_use(role):
        raise Conflict("Agents have the role: give them another one first", code="role_in_use")
    await repo.delete(role)
