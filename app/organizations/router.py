from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from app.api.deps import Admin, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.kit.http import IfMatch, check_if_match, set_etag
from app.kit.pagination import PageQuery
from app.kit.schemas import Page
from app.organizations import service
from app.organizations.repository import BY_NAME, OrganizationRepository
from app.organizations.schemas import OrganizationCreate, OrganizationOut, OrganizationUpdate

router = APIRouter(prefix="/v1/organizations", tags=["Organizations"], route_class=UnitOfWorkRoute)


@router.get("", response_model=Page[OrganizationOut])
async def list_organizations(
    session: Session,
    principal: Viewer,
    page: PageQuery,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Words found in the name or a domain, accents ignored"),
    ] = None,
) -> Page[OrganizationOut]:
    """The organizations of the workspace, by name."""
    repo = OrganizationRepository(session, principal.workspace_id)
    items, next_cursor = await repo.paginate(repo.search(q), BY_NAME, page)
    return Page(items=items, next_cursor=next_cursor)


@router.post("", response_model=OrganizationOut, status_code=status.HTTP_201_CREATED)
async def create_organization(
    data: OrganizationCreate, session: Session, principal: Admin, response: Response
):
    """Names are unique regardless of case; a domain belongs to one organization at most."""
    created = await service.create_organization(session, principal.workspace_id, data)
    set_etag(response, created.version)
    return created


@router.get("/{organization_id}", response_model=OrganizationOut)
async def get_organization(organization_id: UUID, session: Session, principal: Viewer, response: Response):
    found = await service.get_organization(session, principal.workspace_id, organization_id)
    set_etag(response, found.version)
    return found


@router.patch("/{organization_id}", response_model=OrganizationOut)
async def update_organization(
    organization_id: UUID,
    data: OrganizationUpdate,
    session: Session,
    principal: Admin,
    response: Response,
    if_match: IfMatch = None,
):
    found = await service.get_organization(session, principal.workspace_id, organization_id, for_update=True)
    check_if_match(if_match, found.version)
    updated = await service.update_organization(session, principal.workspace_id, found, data)
    set_etag(response, updated.version)
    return updated


@router.delete("/{organization_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_organization(
    organization_id: UUID, session: Session, principal: Admin, if_match: IfMatch = None
) -> None:
    """Refused with 409 while contacts belong to the organization."""
    found = await service.get_organization(session, principal.workspace_id, organization_id, for_update=True)
    check_if_match(if_match, found.version)
    await service.delete_organization(session, principal.workspace_id, found)
