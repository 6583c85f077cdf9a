from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status

from app.agents import service
from app.agents.schemas import AgentCreate, AgentOut, AgentUpdate
from app.api.deps import Admin, Session, Viewer
from app.api.deps import Agent as AgentRole
from app.api.routing import UnitOfWorkRoute
from app.kit.http import IfMatch, check_if_match, set_etag
from app.kit.pagination import PageQuery, SearchQuery
from app.kit.schemas import Page
from app.models.enums import Availability, Role

router = APIRouter(prefix="/v1/agents", tags=["Agents"], route_class=UnitOfWorkRoute)


@router.get("", response_model=Page[AgentOut])
async def list_agents(
    session: Session,
    principal: Viewer,
    page: PageQuery,
    active: bool | None = None,
    role: Role | None = None,
    availability: Availability | None = None,
    group_id: Annotated[UUID | None, Query(description="Only the members of this group")] = None,
    q: SearchQuery = None,
) -> Page[AgentOut]:
    """The agents of the workspace, by name."""
    return await service.list_agents(
        session,
        principal.workspace_id,
        page,
        active=active,
        role=role,
        availability=availability,
        group_id=group_id,
        q=q,
    )


@router.post("", response_model=AgentOut, status_code=status.HTTP_201_CREATED)
async def create_agent(data: AgentCreate, session: Session, principal: Admin, response: Response):
    """`external_id` and `email` (case-insensitively) are unique in the workspace."""
    created = await service.create_agent(session, principal.workspace_id, data)
    set_etag(response, created.version)
    return await service.describe_agent(session, principal.workspace_id, created)


@router.get(
    "/me",
    response_model=AgentOut,
    responses={404: {"description": "The credential acts as no agent (an API key)"}},
)
async def get_current_agent(session: Session, principal: Viewer, response: Response):
    """The agent the caller acts as; only agent tokens act as an agent, API keys get a 404."""
    found = await service.get_current_agent(session, principal)
    set_etag(response, found.version)
    return await service.describe_agent(session, principal.workspace_id, found)


@router.get("/{agent_id}", response_model=AgentOut)
async def get_agent(agent_id: UUID, session: Session, principal: Viewer, response: Response):
    found = await service.get_agent(session, principal.workspace_id, agent_id)
    set_etag(response, found.version)
    return await service.describe_agent(session, principal.workspace_id, found)


@router.patch("/{agent_id}", response_model=AgentOut)
async def update_agent(
    agent_id: UUID,
    data: AgentUpdate,
    session: Session,
    principal: AgentRole,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
):
    """Admins change any field; an agent token may change its own `availability`. Agents are never
    deleted: `active: false` retires one while its history keeps pointing at it. A change of
    availability or activity is an `agent.availability_changed` event."""
    found = await service.get_agent(session, principal.workspace_id, agent_id, for_update=True)
    check_if_match(if_match, found.version)
    updated = await service.update_agent(session, principal, request.app.state.settings, found, data)
    set_etag(response, updated.version)
    return await service.describe_agent(session, principal.workspace_id, updated)
