from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import IssuedKey, issue_api_key
from app.kit.ids import new_id
from app.models import Workspace
from app.models.enums import Locale, Role
from app.statuses.service import create_default_statuses
from app.workspaces import repository
from app.workspaces.built_in_views import create_built_in_views


@dataclass(frozen=True)
class CreatedWorkspace:
    workspace: Workspace
    admin_key: IssuedKey


async def create_workspace(session: AsyncSession, name: str) -> CreatedWorkspace:
    """A new business: its default workflow statuses and a first admin API key."""
    workspace = await repository.add_workspace(session, Workspace(id=new_id(), name=name))
    await create_default_statuses(session, workspace.id)
    await create_built_in_views(session, workspace.id, Locale.vi)
    key = await issue_api_key(session, workspace.id, "Initial admin key", Role.admin)
    return CreatedWorkspace(workspace, key)
