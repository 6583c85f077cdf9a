from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateSequence, Sequence

from app.kit.time import utcnow
from app.models import Workspace
from app.models.workspace import ticket_number_sequence


async def get_workspace(session: AsyncSession, workspace_id: UUID) -> Workspace | None:
    return await session.get(Workspace, workspace_id)


async def any_workspace_exists(session: AsyncSession) -> bool:
    return (await session.scalar(select(Workspace.id).limit(1))) is not None


async def add_workspace(session: AsyncSession, workspace: Workspace) -> Workspace:
    """The workspace and its sequence of ticket numbers, both in the session's transaction."""
    session.add(workspace)
    await session.flush()
    await session.execute(CreateSequence(Sequence(ticket_number_sequence(workspace.id))))
    return workspace


async def update_workspace(session: AsyncSession, workspace: Workspace, values: dict[str, Any]) -> Workspace:
    for key, value in values.items():
        setattr(workspace, key, value)
    if values:
        workspace.updated_at = utcnow()
    await session.flush()
    return workspace
