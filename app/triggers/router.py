from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status

from app.api.deps import Admin, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.kit.http import IfMatch, check_if_match, set_etag
from app.kit.pagination import PageQuery
from app.kit.schemas import Page
from app.triggers import service
from app.triggers.schemas import TriggerCreate, TriggerEvent, TriggerOut, TriggerUpdate

router = APIRouter(prefix="/v1/triggers", tags=["Triggers"], route_class=UnitOfWorkRoute)


@router.get("", response_model=Page[TriggerOut])
async def list_triggers(
    session: Session,
    principal: Viewer,
    page: PageQuery,
    active: bool | None = None,
    event: Annotated[TriggerEvent | None, Query(description="Only the triggers this event fires")] = None,
) -> Page[TriggerOut]:
    """The triggers in the order they run: by position, then name."""
    items, next_cursor = await service.list_triggers(
        session, principal.workspace_id, page, active=active, event=event
    )
    return Page(items=[TriggerOut.model_validate(item) for item in items], next_cursor=next_cursor)


@router.post("", response_model=TriggerOut, status_code=status.HTTP_201_CREATED)
async def create_trigger(
    data: TriggerCreate, request: Request, session: Session, principal: Admin, response: Response
):
    """When one of `events` happens to a ticket that meets the `conditions`, apply the `actions`: in the
    transaction of the change, in order, each trigger at most once per change. What a trigger changes
    is in the ticket's history under its id and fires the triggers after it."""
    created = await service.create_trigger(session, principal.workspace_id, data, request.app.state.settings)
    set_etag(response, created.version)
    return created


@router.get("/{trigger_id}", response_model=TriggerOut)
async def get_trigger(trigger_id: UUID, session: Session, principal: Viewer, response: Response):
    found = await service.get_trigger(session, principal.workspace_id, trigger_id)
    set_etag(response, found.version)
    return found


@router.patch("/{trigger_id}", response_model=TriggerOut)
async def update_trigger(
    trigger_id: UUID,
    data: TriggerUpdate,
    request: Request,
    session: Session,
    principal: Admin,
    response: Response,
    if_match: IfMatch = None,
):
    found = await service.get_trigger(session, principal.workspace_id, trigger_id, for_update=True)
    check_if_match(if_match, found.version)
    updated = await service.update_trigger(
        session, principal.workspace_id, found, data, request.app.state.settings
    )
    set_etag(response, updated.version)
    return updated


@router.delete("/{trigger_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_trigger(
    trigger_id: UUID, session: Session, principal: Admin, if_match: IfMatch = None
) -> None:
    found = await service.get_trigger(session, principal.workspace_id, trigger_id, for_update=True)
    check_if_match(if_match, found.version)
    await service.delete_trigger(session, principal.workspace_id, found)
