from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from app.api.deps import Admin, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.automations import service
from app.automations.schemas import AutomationCreate, AutomationOut, AutomationUpdate
from app.kit.http import IfMatch, check_if_match, set_etag
from app.kit.pagination import PageQuery
from app.kit.schemas import Page

router = APIRouter(prefix="/v1/automations", tags=["Automations"], route_class=UnitOfWorkRoute)


@router.get("", response_model=Page[AutomationOut])
async def list_automations(
    session: Session, principal: Viewer, page: PageQuery, active: bool | None = None
) -> Page[AutomationOut]:
    """The automations in the order they run: by position, then name."""
    items, next_cursor = await service.list_automations(session, principal.workspace_id, page, active=active)
    return Page(items=[AutomationOut.model_validate(item) for item in items], next_cursor=next_cursor)


@router.post("", response_model=AutomationOut, status_code=status.HTTP_201_CREATED)
async def create_automation(
    data: AutomationCreate, request: Request, session: Session, principal: Admin, response: Response
):
    """Once a ticket meets the `conditions` — which wait for time to pass: so many hours since it was
    created, updated, assigned, solved, entered its status, or since the last reply of either side —
    apply the `actions`, by a worker, within a minute. An automation acts on a ticket once, and again
    only after its conditions stopped holding and hold anew (a later change resets them). What it
    changes is in the ticket's history under its id, and fires the triggers."""
    created = await service.create_automation(
        session, principal.workspace_id, data, request.app.state.settings
    )
    set_etag(response, created.version)
    return created


@router.get("/{automation_id}", response_model=AutomationOut)
async def get_automation(automation_id: UUID, session: Session, principal: Viewer, response: Response):
    found = await service.get_automation(session, principal.workspace_id, automation_id)
    set_etag(response, found.version)
    return found


@router.patch("/{automation_id}", response_model=AutomationOut)
async def update_automation(
    automation_id: UUID,
    data: AutomationUpdate,
    request: Request,
    session: Session,
    principal: Admin,
    response: Response,
    if_match: IfMatch = None,
):
    found = await service.get_automation(session, principal.workspace_id, automation_id, for_update=True)
    check_if_match(if_match, found.version)
    updated = await service.update_automation(
        session, principal.workspace_id, found, data, request.app.state.settings
    )
    set_etag(response, updated.version)
    return updated


@router.delete("/{automation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_automation(
    automation_id: UUID, session: Session, principal: Admin, if_match: IfMatch = None
) -> None:
    found = await service.get_automation(session, principal.workspace_id, automation_id, for_update=True)
    check_if_match(if_match, found.version)
    await service.delete_automation(session, principal.workspace_id, found)
