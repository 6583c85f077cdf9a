from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.agents import service as agents
from app.agents.schemas import AgentOut
from app.errors import Conflict, NotFound
from app.groups.repository import BY_NAME, GroupRepository
from app.groups.schemas import GroupCreate, GroupOut, GroupUpdate
from app.kit.ids import new_id
from app.kit.pagination import PageParams
from app.kit.schemas import Page
from app.kit.search import search_key
from app.models import Group


async def get_group(
    session: AsyncSession, workspace_id: UUID, group_id: UUID, *, for_update: bool = False
) -> Group:
    return await GroupRepository(session, workspace_id).get_or_404(group_id, for_update=for_update)


async def describe_groups(
    session: AsyncSession, workspace_id: UUID, groups: Sequence[Group]
) -> list[GroupOut]:
    """The groups as the API shows them, with the members of all of them counted in one query."""
    counts = await GroupRepository(session, workspace_id).member_counts([g.id for g in groups])
    return [GroupOut.of(group, counts.get(group.id, 0)) for group in groups]


async def describe_group(session: AsyncSession, workspace_id: UUID, group: Group) -> GroupOut:
    [described] = await describe_groups(session, workspace_id, [group])
    return described


async def list_groups(
    session: AsyncSession, workspace_id: UUID, page: PageParams, *, q: str | None = None
) -> Page[GroupOut]:
    repo = GroupRepository(session, workspace_id)
    groups, next_cursor = await repo.paginate(repo.filtered(q=q), BY_NAME, page)
    return Page(items=await describe_groups(session, workspace_id, groups), next_cursor=next_cursor)


async def create_group(session: AsyncSession, workspace_id: UUID, data: GroupCreate) -> Group:
    group = Group(id=new_id(), search_text=search_key(data.name), **data.model_dump())
    return await GroupRepository(session, workspace_id).add(group)


async def update_group(session: AsyncSession, workspace_id: UUID, group: Group, data: GroupUpdate) -> Group:
    values = data.changes()
    if "name" in values:
        values["search_text"] = search_key(values["name"])
    return await GroupRepository(session, workspace_id).update(group, values)


async def delete_group(session: AsyncSession, workspace_id: UUID, group: Group) -> None:
    repo = GroupRepository(session, workspace_id)
    if await repo.has_tickets(group.id):
        raise Conflict(
            "Tickets are still in this group: move them to another group before deleting it",
            code="group_in_use",
        )
    await agents.touch_members_of(session, workspace_id, group.id)
    await repo.delete(group)


async def list_members(
    session: AsyncSession, workspace_id: UUID, group: Group, page: PageParams
) -> Page[AgentOut]:
    return await agents.list_agents(session, workspace_id, page, group_id=group.id)


async def add_member(session: AsyncSession, workspace_id: UUID, group: Group, agent_id: UUID) -> None:
    await agents.get_agent(session, workspace_id, agent_id)
    if await GroupRepository(session, workspace_id).add_member(group.id, agent_id):
        await _touch(session, workspace_id, group, agent_id)


async def remove_member(session: AsyncSession, workspace_id: UUID, group: Group, agent_id: UUID) -> None:
    if not await GroupRepository(session, workspace_id).remove_member(group.id, agent_id):
        raise NotFound("Group member", field="agent_id")
    await _touch(session, workspace_id, group, agent_id)


async def _touch(session: AsyncSession, workspace_id: UUID, group: Group, agent_id: UUID) -> None:
    """New versions for both sides: the group's `member_count` and the agent's `group_ids` changed."""
    await GroupRepository(session, workspace_id).touch(group.id)
    await agents.touch_agent(session, workspace_id, agent_id)
