from uuid import UUID

from fastapi import APIRouter, Response, status

from app.api.deps import Admin, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.kit.http import IfMatch, check_if_match, set_etag
from app.kit.pagination import PageQuery
from app.kit.schemas import Page
from app.statuses import service
from app.statuses.repository import BY_POSITION, StatusRepository
from app.statuses.schemas import StatusCreate, StatusOut, StatusUpdate

router = APIRouter(prefix="/v1/statuses", tags=["Statuses"], route_class=UnitOfWorkRoute)


@router.get("", response_model=Page[StatusOut])
async def list_statuses(session: Session, principal: Viewer, page: PageQuery) -> Page[StatusOut]:
    """The workflow statuses of the workspace, in board order."""
    repo = StatusRepository(session, principal.workspace_id)
    items, next_cursor = await repo.paginate(repo.select(), BY_POSITION, page)
    return Page(items=items, next_cursor=next_cursor)


@router.post("", response_model=StatusOut, status_code=status.HTTP_201_CREATED)
async def create_status(data: StatusCreate, session: Session, principal: Admin, response: Response):
    created = await service.create_status(session, principal.workspace_id, data)
    set_etag(response, created.version)
    return created


@router.get("/{status_id}", response_model=StatusOut)
async def get_status(status_id: UUID, session: Session, principal: Viewer, response: Response):
    found = await service.get_status(session, principal.workspace_id, status_id)
    set_etag(response, found.version)
    return found


@router.patch("/{status_id}", response_model=StatusOut)
async def update_status(
    status_id: UUID,
    data: StatusUpdate,
    session: Session,
    principal: Admin,
    response: Response,
    if_match: IfMatch = None,
):
    found = await service.get_status(session, principal.workspace_id, status_id, for_update=True)
    check_if_match(if_match, found.version)
    updated = await service.update_status(session, principal.workspace_id, found, data)
    set_etag(response, updated.version)
    return updated


@router.delete("/{status_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_status(
    status_id: UUID, session: Session, principal: Admin, if_match: IfMatch = None
) -> None:
    """Refused with 409 while tickets use the status or while it is the default of its kind."""
    found = await service.get_status(session, principal.workspace_id, status_id, for_update=True)
    check_if_match(if_match, found.version)
    await service.delete_status(session, principal.workspace_id, found)
