"""Collision detection: which agents are viewing or typing on a ticket right now."""

from datetime import timedelta
from uuid import UUID

from fastapi import APIRouter, Request, status

from app.api.deps import Agent, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.auth.principal import Principal
from app.errors import Unprocessable
from app.kit.schemas import Page
from app.kit.time import utcnow
from app.presence.repository import PresenceRepository
from app.presence.schemas import PresenceOut, PresenceUpdate
from app.tickets.service import TicketService

router = APIRouter(prefix="/v1/tickets/{ticket_id}/presence", tags=["Presence"], route_class=UnitOfWorkRoute)

# Presence lasts this long unless refreshed: agent UIs refresh it while the ticket is open.
PRESENCE_TTL = timedelta(seconds=30)


def _agent_of(principal: Principal) -> UUID:
    if principal.agent_id is None:
        raise Unprocessable("Presence is an agent's: use an agent token", code="not_an_agent")
    return principal.agent_id


async def _others(session: Session, principal: Principal, ticket_id: UUID) -> Page[PresenceOut]:
    present = await PresenceRepository(session, principal.workspace_id).others(
        ticket_id, principal.agent_id, utcnow()
    )
    items = [
        PresenceOut(agent_id=row.agent_id, name=name, state=row.state, expires_at=row.expires_at)
        for row, name in present
    ]
    return Page(items=items)


@router.put("", response_model=Page[PresenceOut])
async def mark_presence(
    ticket_id: UUID, data: PresenceUpdate, request: Request, session: Session, principal: Agent
) -> Page[PresenceOut]:
    """Say the calling agent is viewing or typing on the ticket (for 30 s; refresh to stay); answers
    the other agents there now, all on one page."""
    await TicketService(session, principal, request.app.state.settings).get(ticket_id)
    until = utcnow() + PRESENCE_TTL
    await PresenceRepository(session, principal.workspace_id).mark(
        ticket_id, _agent_of(principal), data.state, until
    )
    return await _others(session, principal, ticket_id)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def leave_presence(ticket_id: UUID, request: Request, session: Session, principal: Agent) -> None:
    """The calling agent left the ticket."""
    await TicketService(session, principal, request.app.state.settings).get(ticket_id)
    await PresenceRepository(session, principal.workspace_id).leave(ticket_id, _agent_of(principal))


@router.get("", response_model=Page[PresenceOut])
async def list_presence(
    ticket_id: UUID, request: Request, session: Session, principal: Viewer
) -> Page[PresenceOut]:
    """The other agents viewing or typing on the ticket now, all on one page."""
    await TicketService(session, principal, request.app.state.settings).get(ticket_id)
    return await _others(session, principal, ticket_id)
