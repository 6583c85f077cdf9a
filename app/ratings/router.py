from uuid import UUID

from fastapi import APIRouter, Request

from app.api.deps import Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.kit.pagination import PageQuery
from app.kit.schemas import Page
from app.ratings.schemas import RatingOut
from app.ratings.service import RatingService
from app.tickets.service import TicketService

router = APIRouter(prefix="/v1/tickets", tags=["Tickets"], route_class=UnitOfWorkRoute)


@router.get("/{ticket_id}/ratings", response_model=Page[RatingOut])
async def list_ticket_ratings(
    ticket_id: UUID, request: Request, session: Session, principal: Viewer, page: PageQuery
) -> Page[RatingOut]:
    """The customer's ratings of the ticket, one per solve, newest first (the ticket carries the latest)."""
    service = RatingService(TicketService(session, principal, request.app.state.settings))
    ratings, next_cursor = await service.page(ticket_id, page)
    return Page(items=[RatingOut.model_validate(rating) for rating in ratings], next_cursor=next_cursor)
