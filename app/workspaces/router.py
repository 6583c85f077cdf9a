from fastapi import APIRouter, Response

from app.api.deps import Admin, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.errors import NotFound
from app.kit.http import IfMatch, check_if_match, set_etag
from app.workspaces import repository, service
from app.workspaces.schemas import WorkspaceOut, WorkspaceUpdate

router = APIRouter(prefix="/v1/workspace", tags=["Workspace"], route_class=UnitOfWorkRoute)


@router.get("", response_model=WorkspaceOut)
async def get_workspace(session: Session, principal: Viewer, response: Response):
    """The workspace (business) the credential belongs to."""
    workspace = await repository.get_workspace(session, principal.workspace_id)
    if workspace is None:
        raise NotFound("Workspace")
    set_etag(response, workspace.version)
    return workspace


@router.patch("", response_model=WorkspaceOut)
async def update_workspace(
    data: WorkspaceUpdate, session: Session, principal: Admin, response: Response, if_match: IfMatch = None
):
    workspace = await repository.get_workspace(session, principal.workspace_id, for_update=True)
    if workspace is None:
        raise NotFound("Workspace")
    check_if_match(if_match, workspace.version)
    updated = await service.update_workspace(session, workspace, data.changes())
    set_etag(response, updated.version)
    return updated
