from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.api.deps import Admin, Session
from app.api.routing import UnitOfWorkRoute
from app.exports.schemas import TicketExport
from app.exports.service import export_page, position
from app.kit.schemas import AwareDatetime
from app.tickets.repository import TicketRepository

router = APIRouter(prefix="/v1/export", tags=["Export"], route_class=UnitOfWorkRoute)

MAX_PAGE = 1000


@router.get("/tickets", response_model=TicketExport)
async def export_tickets(
    request: Request,
    session: Session,
    principal: Admin,
    start_time: Annotated[
        AwareDatetime | None,
        Query(description="The tickets changed at or after this time (a first call; default: all of them)"),
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=500, description="The next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Tickets per page")] = 100,
) -> TicketExport:
    """Every ticket of the workspace, deleted ones too (`deleted`), with its metrics, in the order of
    its last change (`updated_at`, then id), from `start_time` or from a `cursor`; not limited by the
    retention of events. Walk on with `next_cursor` until `end_of_stream`, and keep polling with the
    last `next_cursor`: a ticket changed again comes again. The export stays a few seconds behind the
    present (`HELPDESK_EXPORT_MARGIN_SECONDS`), and behind the oldest transaction still running, so
    that a change committed late is never passed over. Admins only."""
    after = position(start_time, cursor)
    margin = request.app.state.settings.export_margin_seconds
    return await export_page(TicketRepository(session, principal.workspace_id), after, limit, margin)
