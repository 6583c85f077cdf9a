from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import IssuedKey, issue_api_key
from app.errors import Unprocessable
from app.kit.ids import new_id
from app.models import Workspace
from app.models.enums import ChannelKind, Locale, Role
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


async def update_workspace(session: AsyncSession, workspace: Workspace, values: dict[str, Any]) -> Workspace:
    channel_id = values.get("notification_channel_id")
    if channel_id is not None:
        await _check_notification_channel(session, workspace, channel_id)
    return await repository.update_workspace(session, workspace, values)


async def _check_notification_channel(session: AsyncSession, workspace: Workspace, channel_id: UUID) -> None:
    """Notification emails go out through an email channel of the workspace that can send mail."""
    channel = await repository.get_channel(session, workspace.id, channel_id)
    field = "notification_channel_id"
    if channel is None:
        raise Unprocessable(f"{field}: no such channel", field=field, code="unknown_reference")
    if channel.kind is not ChannelKind.email or not channel.settings.get("smtp_host"):
        raise Unprocessable(f"{field}: not an email channel with an SMTP server", field=field)
