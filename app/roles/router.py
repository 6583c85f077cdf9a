"""Custom agent roles: sets of permissions given to agents in place of their built-in role's."""

from uuid import UUID

from fastapi import APIRouter, Response, status

from app.api.deps import Admin, Session, Viewer
from app.api.permissions import preset
from app.api.routing import UnitOfWorkRoute
from app.kit.http import IfMatch, check_if_match, set_etag
from app.kit.pagination import PageQuery
from app.kit.schemas import Page
from app.models.enums import Role
from app.roles import service
from app.roles.repository import BY_NAME, RoleRepository
from app.roles.schemas import Presets, RoleCreate, RoleOut, RoleUpdate

router = APIRouter(prefix="/v1/roles", tags=["Roles"], route_class=UnitOfWorkRoute)


@router.get("", response_model=Page[RoleOut])
async def list_roles(session: Session, principal: Viewer, page: PageQuery) -> Page[RoleOut]:
    """The workspace's custom roles, by name."""
    repo = RoleRepository(session, principal.workspace_id)
    items, next_cursor = await repo.paginate(repo.select(), BY_NAME, page)
    return Page(items=[RoleOut.model_validate(item) for item in items], next_cursor=next_cursor)


@router.get("/presets", response_model=Presets)
async def get_role_presets(principal: Viewer) -> Presets:
    """The permissions of the built-in roles: what a custom role can start from."""
    return Presets(**{role.value: preset(role) for role in Role})


@router.post("", response_model=RoleOut, status_code=status.HTTP_201_CREATED)
async def create_role(data: RoleCreate, session: Session, principal: Admin, response: Response):
    created = await service.create_role(session, principal.workspace_id, data)
    set_etag(response, created.version)
    return created


@router.get("/{role_id}", response_model=RoleOut)
async def get_role(role_id: UUID, session: Session, principal: Viewer, response: Response):
    found = await service.get_role(session, principal.workspace_id, role_id)
    set_etag(response, found.version)
    return found


@router.patch("/{role_id}", response_model=RoleOut)
async def update_role(
    role_id: UUID,
    data: RoleUpdate,
    session: Session,
    principal: Admin,
    response: Response,
    if_match: IfMatch = None,
):
    """A change applies to the role's agents from their next request."""
    found = await service.get_role(session, principal.workspace_id, role_id, for_update=True)
    check_if_match(if_match, found.version)
    updated = await service.update_role(session, principal.workspace_id, found, data)
    set_etag(response, updated.version)
    return updated


@router.delete("/{role_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_role(role_id: UUID, session: Session, principal: Admin, if_match: IfMatch = None) -> None:
    """Refused with 409 `role_in_use` while agents have it."""
    found = await service.get_role(session, principal.workspace_id, role_id, for_update=True)
    check_if_match(if_match, found.version)
    await service.delete_role(session, principal.workspace_id, found)
