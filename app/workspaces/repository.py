from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateSequence, Sequence

from app.kit.repository import write_changes
from app.models import MessagingChannel, Workspace
from app.models.enums import Locale
from app.models.workspace import ticket_number_sequence


async def get_workspace(
    session: AsyncSession, workspace_id: UUID, *, for_update: bool = False
) -> Workspace | None:
    # FOR NO KEY UPDATE, the lock an UPDATE of the row takes: inserts of the workspace's rows (their
    # foreign key's KEY SHARE) go on, where FOR UPDATE would make every one of them wait.
    lock = {"key_share": True} if for_update else None
    return await session.get(Workspace, workspace_id, with_for_update=lock)


async def get_rate_limit(session: AsyncSession, workspace_id: UUID) -> int | None:
    """The workspace's own requests a minute, if it has one."""
    return await session.scalar(select(Workspace.rate_limit_per_minute).where(Workspace.id == workspace_id))


async def get_locale(session: AsyncSession, workspace_id: UUID) -> Locale:
    """The language of the texts the service writes in the workspace."""
    return await session.scalar(select(Workspace.locale).where(Workspace.id == workspace_id)) or Locale.vi


async def any_workspace_exists(session: AsyncSession) -> bool:
    return (await session.scalar(select(Workspace.id).limit(1))) is not None


async def add_workspace(session: AsyncSession, workspace: Workspace) -> Workspace:
    """The workspace and its sequence of ticket numbers, both in the session's transaction."""
    session.add(workspace)
    await session.flush()
    await session.execute(CreateSequence(Sequence(ticket_number_sequence(workspace.id))))
    return workspace


async def update_workspace(session: AsyncSession, workspace: Workspace, values: dict[str, Any]) -> Workspace:
    return await write_changes(session, workspace, values)


async def get_channel(session: AsyncSession, workspace_id: UUID, channel_id: UUID) -> MessagingChannel | None:
    statement = select(MessagingChannel).where(
        MessagingChannel.workspace_id == workspace_id, MessagingChannel.id == channel_id
    )
    return (await session.execute(statement)).scalar_one_or_none()
