from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.hooks import agent_hooks
from app.agents.repository import BY_NAME, AgentRepository
from app.agents.schemas import AgentCreate, AgentOut, AgentUpdate
from app.auth.principal import Principal
from app.config import Settings
from app.errors import AppError, Forbidden
from app.kit.ids import new_id
from app.kit.pagination import PageParams
from app.kit.schemas import Page
from app.kit.search import search_key
from app.models import Agent
from app.models.enums import Availability, Role
from app.outbox import EventType, changes_between, event_row, record


class NotAnAgent(AppError):
    status = 404
    code = "not_an_agent"
    title = "Not found"

    def __init__(self) -> None:
        super().__init__("This credential does not act as an agent: only agent tokens have a current agent")


async def get_agent(
    session: AsyncSession, workspace_id: UUID, agent_id: UUID, *, for_update: bool = False
) -> Agent:
    return await AgentRepository(session, workspace_id).get_or_404(agent_id, for_update=for_update)


async def get_current_agent(session: AsyncSession, principal: Principal) -> Agent:
    if principal.agent_id is None:
        raise NotAnAgent()
    return await get_agent(session, principal.workspace_id, principal.agent_id)


async def describe_agents(
    session: AsyncSession, workspace_id: UUID, agents: Sequence[Agent]
) -> list[AgentOut]:
    """The agents as the API shows them, with the groups of all of them read in one query."""
    group_ids = await AgentRepository(session, workspace_id).group_ids_by_agent([a.id for a in agents])
    return [AgentOut.of(agent, group_ids.get(agent.id, [])) for agent in agents]


async def describe_agent(session: AsyncSession, workspace_id: UUID, agent: Agent) -> AgentOut:
    [described] = await describe_agents(session, workspace_id, [agent])
    return described


async def list_agents(
    session: AsyncSession,
    workspace_id: UUID,
    page: PageParams,
    *,
    active: bool | None = None,
    role: Role | None = None,
    availability: Availability | None = None,
    group_id: UUID | None = None,
    q: str | None = None,
) -> Page[AgentOut]:
    repo = AgentRepository(session, workspace_id)
    statement = repo.filtered(active=active, role=role, availability=availability, group_id=group_id, q=q)
    agents, next_cursor = await repo.paginate(statement, BY_NAME, page)
    return Page(items=await describe_agents(session, workspace_id, agents), next_cursor=next_cursor)


async def create_agent(session: AsyncSession, workspace_id: UUID, data: AgentCreate) -> Agent:
    agent = Agent(id=new_id(), search_text=search_key(data.name, data.email), **data.model_dump())
    return await AgentRepository(session, workspace_id).add(agent)


async def update_agent(
    session: AsyncSession, principal: Principal, settings: Settings, agent: Agent, data: AgentUpdate
) -> Agent:
    """Admins change anything; an agent changes their own availability only.

    Going online, away or offline, or being (de)activated, is an `agent.availability_changed` event;
    an agent who goes offline or is deactivated gives back the tickets of groups that ask for it (the
    agent hooks: assignment installs the one that does).
    """
    values = data.changes()
    if not principal.can(Role.admin) and (principal.agent_id != agent.id or set(values) - {"availability"}):
        raise Forbidden("Agents may change their own availability only; the rest takes an admin")
    if "name" in values or "email" in values:
        values["search_text"] = search_key(values.get("name", agent.name), values.get("email", agent.email))
    before = {"availability": agent.availability.value, "active": agent.active}
    updated = await AgentRepository(session, principal.workspace_id).update(agent, values)
    described = (await describe_agent(session, principal.workspace_id, updated)).model_dump(mode="json")
    changes = changes_between(before, {name: described[name] for name in before})
    if changes:
        event = event_row(
            principal,
            EventType.agent_availability_changed,
            agent.id,
            {"agent": described, "changes": changes},
        )
        await record(session, principal, [event])
    could_work = before["availability"] != Availability.offline.value and before["active"]
    if could_work and (updated.availability is Availability.offline or not updated.active):
        for hook in agent_hooks():
            await hook.stopped_working(session, principal, settings, agent.id)
    return updated


async def touch_agent(session: AsyncSession, workspace_id: UUID, agent_id: UUID) -> None:
    """A new version for an agent whose groups changed, so that its ETag changes with its `group_ids`."""
    await AgentRepository(session, workspace_id).touch(agent_id)


async def touch_members_of(session: AsyncSession, workspace_id: UUID, group_id: UUID) -> None:
    """A new version for every member of a group about to be deleted."""
    await AgentRepository(session, workspace_id).touch_members_of(group_id)
