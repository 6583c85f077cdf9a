from uuid import UUID

from fastapi import APIRouter, Response, status

from app.agents.schemas import AgentOut
from app.api.deps import Admin, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.groups import service
from app.groups.schemas import GroupCreate, GroupOut, GroupUpdate
from app.kit.http import IfMatch, check_if_match, set_etag
from app.kit.pagination import PageQuery, SearchQuery
from app.kit.schemas import Page

router = APIRouter(prefix="/v1/groups", tags=["Groups"], route_class=UnitOfWorkRoute)


@router.get("", response_model=Page[GroupOut])
async def list_groups(
    session: Session, principal: Viewer, page: PageQuery, q: SearchQuery = None
) -> Page[GroupOut]:
    """The groups of the workspace, by name."""
    return await service.list_groups(session, principal.workspace_id, page, q=q)


@router.post("", response_model=GroupOut, status_code=status.HTTP_201_CREATED)
async def create_group(data: GroupCreate, session: Session, principal: Admin, response: Response):
    created = await service.create_group(session, principal.workspace_id, data)
    set_etag(response, created.version)
    return await service.describe_group(session, principal.workspace_id, created)


@router.get("/{group_id}", response_model=GroupOut)
async def get_group(group_id: UUID, session: Session, principal: Viewer, response: Response):
    found = await service.get_group(session, principal.workspace_id, group_id)
    set_etag(response, found.version)
    return await service.describe_group(session, principal.workspace_id, found)


@router.patch("/{group_id}", response_model=GroupOut)
async def update_group(
    group_id: UUID,
    data: GroupUpdate,
    session: Session,
    principal: Admin,
    response: Response,
    if_match: IfMatch = None,
):
    found = await service.get_group(session, principal.workspace_id, group_id, for_update=True)
    check_if_match(if_match, found.version)
    updated = await service.update_group(session, principal.workspace_id, found, data)
    set_etag(response, updated.version)
    return await service.describe_group(session, principal.workspace_id, updated)


@router.delete("/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_group(group_id: UUID, session: Session, principal: Admin, if_match: IfMatch = None) -> None:
    """Refused with 409 while tickets are in the group; its memberships go with it."""
    found = await service.get_group(session, principal.workspace_id, group_id, for_update=True)
    check_if_match(if_match, found.version)
    await service.delete_group(session, principal.workspace_id, found)


@router.get("/{group_id}/members", response_model=Page[AgentOut])
async def list_group_members(
    group_id: UUID, session: Session, principal: Viewer, page: PageQuery
) -> Page[AgentOut]:
    """The agents of the group, by name."""
    found = await service.get_group(session, principal.workspace_id, group_id)
    return await service.list_members(session, principal.workspace_id, found, page)


@router.put("/{group_id}/members/{agent_id}", status_code=status.HTTP_204_NO_CONTENT)
async def add_group_member(group_id: UUID, agent_id: UUID, session: Session, principal: Admin) -> None:
    """Idempotent: adding a member again changes nothing."""
    found = await service.get_group(session, principal.workspace_id, group_id)
    await service.add_member(session, principal.workspace_id, found, agent_id)


@router.delete("/{group_id}/members/{agent_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_group_member(group_id: UUID, agent_id: UUID, session: Session, principal: Admin) -> None:
    """A 404 answers an agent that is not a member of the group."""
    found = await service.get_group(session, principal.workspace_id, group_id)
    await service.remove_member(session, principal.workspace_id, found, agent_id)
