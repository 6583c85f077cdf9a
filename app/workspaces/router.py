from fastapi import APIRouter

from app.api.deps import Admin, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.errors import NotFound
from app.workspaces import repository
from app.workspaces.schemas import WorkspaceOut, WorkspaceUpdate

router = APIRouter(prefix="/v1/workspace", tags=["Workspace"], route_class=UnitOfWorkRoute)


@router.get("", response_model=WorkspaceOut)
async def get_workspace(session: Session, principal: Viewer):
    """The workspace (business) the credential belongs to."""
    workspace = await repository.get_workspace(session, principal.workspace_id)
    if workspace is None:
        raise NotFound("Workspace")
    return workspace


@router.patch("", response_model=WorkspaceOut)
async def update_workspace(data: WorkspaceUpdate, session: Session, principal: Admin):
    workspace = await repository.get_workspace(session, principal.workspace_id)
    if workspace is None:
        raise NotFound("Workspace")
    return await repository.update_workspace(session, workspace, data.changes())
