from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from app.api.deps import Agent, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.errors import BadRequest
from app.kit.http import IfMatch, set_etag
from app.kit.pagination import PageQuery
from app.kit.schemas import Page
from app.tickets.included import IncludeQuery, parse_include, side_load
from app.tickets.schemas import TicketOut, TicketPage
from app.views.schemas import ViewCount, ViewCounts, ViewCreate, ViewOut, ViewUpdate
from app.views.service import ViewService

router = APIRouter(prefix="/v1/views", tags=["Views"], route_class=UnitOfWorkRoute)

MAX_COUNTED = 50


@router.get("", response_model=Page[ViewOut])
async def list_views(
    session: Session,
    principal: Viewer,
    page: PageQuery,
    include_hidden: Annotated[bool, Query(description="Hidden views too")] = False,
) -> Page[ViewOut]:
    """The views the caller sees, by position: shared with everyone, with one of its groups, or its own."""
    items, next_cursor = await ViewService(session, principal).page(page, include_hidden=include_hidden)
    return Page(items=[ViewOut.model_validate(item) for item in items], next_cursor=next_cursor)


@router.post("", response_model=ViewOut, status_code=status.HTTP_201_CREATED)
async def create_view(data: ViewCreate, session: Session, principal: Agent, response: Response) -> ViewOut:
    """Save a list query. Its filters are checked as the list checks them (422 naming the filter).
    Any agent saves personal views; admins share them with groups or everyone."""
    created = await ViewService(session, principal).create(data)
    set_etag(response, created.version)
    return ViewOut.model_validate(created)


@router.get("/counts", response_model=ViewCounts)
async def count_views(
    session: Session,
    principal: Viewer,
    ids: Annotated[
        str | None,
        Query(
            max_length=2_000,
            description=f"Up to {MAX_COUNTED} view ids, comma-separated; default: every view the caller sees "
            "but hidden ones",
        ),
    ] = None,
) -> ViewCounts:
    """How many tickets each view holds for the caller, in one request (what a UI polls)."""
    view_ids = None
    if ids is not None:
        try:
            view_ids = [UUID(part.strip()) for part in ids.split(",") if part.strip()]
        except ValueError:
            raise BadRequest("ids: comma-separated view ids", field="ids") from None
        if len(view_ids) > MAX_COUNTED:
            raise BadRequest(f"ids: at most {MAX_COUNTED}", field="ids")
    return ViewCounts(items=await ViewService(session, principal).counts(view_ids))


@router.get("/{view_id}", response_model=ViewOut)
async def get_view(view_id: UUID, session: Session, principal: Viewer, response: Response) -> ViewOut:
    view = await ViewService(session, principal).get(view_id)
    set_etag(response, view.version)
    return ViewOut.model_validate(view)


@router.patch("/{view_id}", response_model=ViewOut)
async def update_view(
    view_id: UUID,
    data: ViewUpdate,
    session: Session,
    principal: Agent,
    response: Response,
    if_match: IfMatch = None,
) -> ViewOut:
    """A built-in view can be reordered (`position`) and hidden, nothing more."""
    updated = await ViewService(session, principal).update(view_id, data, if_match)
    set_etag(response, updated.version)
    return ViewOut.model_validate(updated)


@router.delete("/{view_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_view(view_id: UUID, session: Session, principal: Agent, if_match: IfMatch = None) -> None:
    """Built-in views are not deleted (409): hide them."""
    await ViewService(session, principal).delete(view_id, if_match)


@router.get("/{view_id}/tickets", response_model=TicketPage)
async def list_view_tickets(
    view_id: UUID, session: Session, principal: Viewer, page: PageQuery, include: IncludeQuery = None
) -> TicketPage:
    """The view's tickets in its sort, exactly as `GET /v1/tickets` with its filters lists them."""
    included = parse_include(include, principal)
    service = ViewService(session, principal)
    items, next_cursor = await service.tickets(await service.get(view_id), page)
    return TicketPage(
        items=[TicketOut.model_validate(item) for item in items],
        next_cursor=next_cursor,
        included=await side_load(session, principal.workspace_id, items, included),
    )


@router.get("/{view_id}/count", response_model=ViewCount)
async def count_view(view_id: UUID, session: Session, principal: Viewer) -> ViewCount:
    service = ViewService(session, principal)
    view = await service.get(view_id)
    return ViewCount(view_id=view.id, count=await service.count(view))
