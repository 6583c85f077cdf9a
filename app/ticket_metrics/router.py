from uuid import UUID

from fastapi import APIRouter, Request

from app.api.deps import Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.kit.time import utcnow
from app.rules.snapshot import rules_of
from app.ticket_metrics.calculation import calendar_for, current
from app.tickets.schemas import TicketMetricsOut
from app.tickets.service import TicketService

router = APIRouter(prefix="/v1/tickets", tags=["Tickets"], route_class=UnitOfWorkRoute)


@router.get("/{ticket_id}/metrics", response_model=TicketMetricsOut)
async def get_ticket_metrics(
    ticket_id: UUID, request: Request, session: Session, principal: Viewer
) -> TicketMetricsOut:
    """The ticket's reply, resolution and wait times, in calendar and business minutes, with the status
    period still running counted up to now; visible to whoever may see the ticket."""
    ticket = await TicketService(session, principal, request.app.state.settings).get(ticket_id)
    calendar = calendar_for(await rules_of(session, principal.workspace_id), ticket.sla_policy_id)
    return TicketMetricsOut.of(current(ticket, utcnow(), calendar))
