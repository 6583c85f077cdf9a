from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.api.deps import Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.kit.pagination import PageQuery
from app.kit.schemas import Page
from app.search.schemas import SearchHit, SearchType, TagCountOut
from app.search.service import SearchService

router = APIRouter(prefix="/v1", tags=["Search"], route_class=UnitOfWorkRoute)


def _service(request: Request, session: Session, principal) -> SearchService:
    return SearchService(session, principal, request.app.state.settings.default_phone_region)


@router.get("/search", response_model=Page[SearchHit])
async def search(
    request: Request,
    session: Session,
    principal: Viewer,
    page: PageQuery,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            description='Words to find, accents and case ignored; a quoted `"phrase"` must appear with its '
            "words side by side. For tickets also `#123` or `123` (the number), an email address, a phone "
            "number or an external id (the requester's tickets)",
        ),
    ],
    type: Annotated[SearchType, Query(description="What to find")] = "tickets",
) -> Page[SearchHit]:
    """Every match, page after page: those holding the query as typed (accents included; for a query
    typed without accents, only the ticket or contact it names) first, then those with its words side
    by side, then those with all its words apart; newest first in each. A
    ticket is found by its subject, description and conversation (internal notes only for callers who
    may read them), and says where it matched. A page of tickets reads at most 1,000 tickets where
    matches are sparse, so it may hold fewer hits than `limit` (even none) and still have a
    `next_cursor`: the matches end only where `next_cursor` is null."""
    hits, next_cursor = await _service(request, session, principal).search(q, type, page)
    return Page(items=hits, next_cursor=next_cursor)


@router.get("/tags", response_model=Page[TagCountOut])
async def list_tags(
    request: Request,
    session: Session,
    principal: Viewer,
    prefix: Annotated[
        str, Query(max_length=100, description="The tags starting with this, accents and case ignored")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=200, description="How many tags, the most used first")] = 20,
) -> Page[TagCountOut]:
    """The workspace's tags with the number of tickets (not deleted) carrying each, for autocomplete:
    the `limit` most used (then by name) whose accent-free form starts with `prefix`'s; one page."""
    return Page(items=await _service(request, session, principal).tags(prefix, limit))
