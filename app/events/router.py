from typing import Annotated

from fastapi import APIRouter, Query

from app.events import service
from app.events.schemas import EventPage
from app.kit.deps import Session, Viewer
from app.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.kit.routing import UnitOfWorkRoute

router = APIRouter(prefix="/v1/events", tags=["Events"], route_class=UnitOfWorkRoute)


@router.get("", response_model=EventPage)
async def list_events(
    session: Session,
    principal: Viewer,
    after: Annotated[
        str | None, Query(max_length=1000, description="`next_cursor` of the previous page")
    ] = None,
    types: Annotated[
        list[str] | None,
        Query(max_length=20, description="Only these event types (repeat or comma-separate)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> EventPage:
    """Every event of the workspace in commit order, for consumers that poll instead of receiving
    webhooks (the same events webhooks carry). Poll again with `after=next_cursor`; an event whose
    transaction is still running is held back until it commits, so none is ever skipped."""
    names = [part.strip() for value in types or [] for part in value.split(",") if part.strip()]
    return await service.feed_page(session, principal.workspace_id, after, names, limit)
