from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Agent, Presence
from app.models.enums import PresenceState


class PresenceRepository:
    def __init__(self, session: AsyncSession, workspace_id: UUID) -> None:
        self.session = session
        self.workspace_id = workspace_id

    async def mark(self, ticket_id: UUID, agent_id: UUID, state: PresenceState, until: datetime) -> None:
        values = {"state": state, "expires_at": until}
        await self.session.execute(
            insert(Presence)
            .values(workspace_id=self.workspace_id, ticket_id=ticket_id, agent_id=agent_id, **values)
            .on_conflict_do_update(index_elements=["workspace_id", "ticket_id", "agent_id"], set_=values)
        )

    async def leave(self, ticket_id: UUID, agent_id: UUID) -> None:
        await self.session.execute(
            delete(Presence).where(
                Presence.workspace_id == self.workspace_id,
                Presence.ticket_id == ticket_id,
                Presence.agent_id == agent_id,
            )
        )

    async def others(
        self, ticket_id: UUID, agent_id: UUID | None, now: datetime
    ) -> list[tuple[Presence, str]]:
        statement = (
            select(Presence, Agent.name)
            .join(Agent, (Agent.workspace_id == Presence.workspace_id) & (Agent.id == Presence.agent_id))
            .where(
                Presence.workspace_id == self.workspace_id,
                Presence.ticket_id == ticket_id,
                Presence.expires_at > now,
            )
            .order_by(Agent.name)
        )
        if agent_id is not None:
            statement = statement.where(Presence.agent_id != agent_id)
        return [(presence, name) for presence, name in (await self.session.execute(statement)).all()]
