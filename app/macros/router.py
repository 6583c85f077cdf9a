import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status

from app.api.deps import Admin, Agent, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.kit.http import IfMatch, check_if_match, set_etag
from app.kit.pagination import PageQuery, SearchQuery
from app.kit.schemas import Page
from app.macros import service
from app.macros.capacity import stop_render_processes
from app.macros.schemas import MacroApplied, MacroCreate, MacroOut, MacroPreview, MacroUpdate
from app.macros.service import MacroService
from app.tickets.schemas import TicketOut


@asynccontextmanager
async def _render_processes(_: Any) -> AsyncIterator[None]:
    """Templates render in processes of their own, which end with the application. (At interpreter exit
    they would too, but a server's worker process may end with os._exit.)"""
    yield
    await asyncio.to_thread(stop_render_processes)


# Full paths: the routes that use a macro on a ticket live here rather than in the tickets router.
router = APIRouter(tags=["Macros"], route_class=UnitOfWorkRoute, lifespan=_render_processes)


@router.get("/v1/macros", response_model=Page[MacroOut])
async def list_macros(
    session: Session,
    principal: Viewer,
    page: PageQuery,
    active: bool | None = None,
    group_id: Annotated[UUID | None, Query(description="Only the macros limited to this group")] = None,
    q: SearchQuery = None,
) -> Page[MacroOut]:
    """The canned responses (mẫu trả lời nhanh) of the workspace, by position then name."""
    items, next_cursor = await service.list_macros(
        session, principal.workspace_id, page, active=active, group_id=group_id, q=q
    )
    return Page(items=[MacroOut.model_validate(item) for item in items], next_cursor=next_cursor)


@router.post("/v1/macros", response_model=MacroOut, status_code=status.HTTP_201_CREATED)
async def create_macro(
    data: MacroCreate, request: Request, session: Session, principal: Admin, response: Response
):
    """The body is compiled and tried on sample data: a syntax error, a construct the sandbox refuses
    or an unknown placeholder is a 422 on `body`."""
    created = await service.create_macro(session, request.app.state.settings, principal.workspace_id, data)
    set_etag(response, created.version)
    return created


@router.get("/v1/macros/{macro_id}", response_model=MacroOut)
async def get_macro(macro_id: UUID, session: Session, principal: Viewer, response: Response):
    found = await service.get_macro(session, principal.workspace_id, macro_id)
    set_etag(response, found.version)
    return found


@router.patch("/v1/macros/{macro_id}", response_model=MacroOut)
async def update_macro(
    macro_id: UUID,
    data: MacroUpdate,
    request: Request,
    session: Session,
    principal: Admin,
    response: Response,
    if_match: IfMatch = None,
):
    found = await service.get_macro(session, principal.workspace_id, macro_id, for_update=True)
    check_if_match(if_match, found.version)
    updated = await service.update_macro(
        session, request.app.state.settings, principal.workspace_id, found, data
    )
    set_etag(response, updated.version)
    return updated


@router.delete("/v1/macros/{macro_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_macro(macro_id: UUID, session: Session, principal: Admin, if_match: IfMatch = None) -> None:
    found = await service.get_macro(session, principal.workspace_id, macro_id, for_update=True)
    check_if_match(if_match, found.version)
    await service.delete_macro(session, principal.workspace_id, found)


@router.post("/v1/tickets/{ticket_id}/macros/{macro_id}/preview", response_model=MacroPreview)
async def preview_macro(
    ticket_id: UUID, macro_id: UUID, request: Request, session: Session, principal: Agent
) -> MacroPreview:
    """The comment the macro would add to this ticket, rendered for the caller, and its changes.
    Nothing is written."""
    return await MacroService(session, principal, request.app.state.settings).preview(ticket_id, macro_id)


@router.post("/v1/tickets/{ticket_id}/macros/{macro_id}/apply", response_model=MacroApplied)
async def apply_macro(
    ticket_id: UUID, macro_id: UUID, request: Request, session: Session, principal: Agent
) -> MacroApplied:
    """Add the macro's comment and apply its changes, all or nothing. A macro limited to a group is
    refused (403) to an agent token of an agent outside it; API keys may use any macro."""
    comment, ticket = await MacroService(session, principal, request.app.state.settings).apply(
        ticket_id, macro_id
    )
    return MacroApplied(comment_id=comment.id if comment else None, ticket=TicketOut.model_validate(ticket))
