from uuid import UUID

from fastapi import APIRouter, Response, status

from app.api.deps import Admin, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.kit.http import IfMatch, check_if_match, set_etag
from app.kit.pagination import PageQuery, SearchQuery
from app.kit.schemas import Page
from app.sla import configuration as service
from app.sla.schemas import (
    CalendarCreate,
    CalendarOut,
    CalendarUpdate,
    SlaPolicyCreate,
    SlaPolicyOut,
    SlaPolicyUpdate,
)

router = APIRouter(tags=["SLA"], route_class=UnitOfWorkRoute)


@router.get("/v1/calendars", response_model=Page[CalendarOut])
async def list_calendars(session: Session, principal: Viewer, page: PageQuery, q: SearchQuery = None):
    """The business calendars (giờ làm việc) of the workspace, by name."""
    items, next_cursor = await service.list_calendars(session, principal.workspace_id, page, q=q)
    return Page(items=[CalendarOut.model_validate(item) for item in items], next_cursor=next_cursor)


@router.post("/v1/calendars", response_model=CalendarOut, status_code=status.HTTP_201_CREATED)
async def create_calendar(data: CalendarCreate, session: Session, principal: Admin, response: Response):
    """Working hours per weekday in a time zone, and holidays. SLA targets in business hours count only
    the working time of their policy's calendar."""
    created = await service.create_calendar(session, principal.workspace_id, data)
    set_etag(response, created.version)
    return created


@router.get("/v1/calendars/{calendar_id}", response_model=CalendarOut)
async def get_calendar(calendar_id: UUID, session: Session, principal: Viewer, response: Response):
    found = await service.get_calendar(session, principal.workspace_id, calendar_id)
    set_etag(response, found.version)
    return found


@router.patch("/v1/calendars/{calendar_id}", response_model=CalendarOut)
async def update_calendar(
    calendar_id: UUID,
    data: CalendarUpdate,
    session: Session,
    principal: Admin,
    response: Response,
    if_match: IfMatch = None,
):
    """New hours or holidays (e.g. next year's Tết) move the due times of the clocks running in them."""
    found = await service.get_calendar(session, principal.workspace_id, calendar_id, for_update=True)
    check_if_match(if_match, found.version)
    updated = await service.update_calendar(session, principal.workspace_id, found, data)
    set_etag(response, updated.version)
    return updated


@router.delete("/v1/calendars/{calendar_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_calendar(
    calendar_id: UUID, session: Session, principal: Admin, if_match: IfMatch = None
) -> None:
    """Refused (409) while a policy or a ticket's clock counts in the calendar."""
    found = await service.get_calendar(session, principal.workspace_id, calendar_id, for_update=True)
    check_if_match(if_match, found.version)
    await service.delete_calendar(session, principal.workspace_id, found)


@router.get("/v1/sla-policies", response_model=Page[SlaPolicyOut])
async def list_sla_policies(session: Session, principal: Viewer, page: PageQuery, active: bool | None = None):
    """The SLA policies in the order they are tried: by position, then name."""
    items, next_cursor = await service.list_policies(session, principal.workspace_id, page, active=active)
    return Page(items=[SlaPolicyOut.model_validate(item) for item in items], next_cursor=next_cursor)


@router.post("/v1/sla-policies", response_model=SlaPolicyOut, status_code=status.HTTP_201_CREATED)
async def create_sla_policy(data: SlaPolicyCreate, session: Session, principal: Admin, response: Response):
    """Targets per priority for the tickets that meet the conditions. A new ticket gets the first active
    policy that matches; a change to a field the policies look at (or to the priority) chooses again."""
    created = await service.create_policy(session, principal.workspace_id, data)
    set_etag(response, created.version)
    return created


@router.get("/v1/sla-policies/{policy_id}", response_model=SlaPolicyOut)
async def get_sla_policy(policy_id: UUID, session: Session, principal: Viewer, response: Response):
    found = await service.get_policy(session, principal.workspace_id, policy_id)
    set_etag(response, found.version)
    return found


@router.patch("/v1/sla-policies/{policy_id}", response_model=SlaPolicyOut)
async def update_sla_policy(
    policy_id: UUID,
    data: SlaPolicyUpdate,
    session: Session,
    principal: Admin,
    response: Response,
    if_match: IfMatch = None,
):
    found = await service.get_policy(session, principal.workspace_id, policy_id, for_update=True)
    check_if_match(if_match, found.version)
    updated = await service.update_policy(session, principal.workspace_id, found, data)
    set_etag(response, updated.version)
    return updated


@router.delete("/v1/sla-policies/{policy_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_sla_policy(
    policy_id: UUID, session: Session, principal: Admin, if_match: IfMatch = None
) -> None:
    """Refused (409) once tickets have had the policy: deactivate it instead."""
    found = await service.get_policy(session, principal.workspace_id, policy_id, for_update=True)
    check_if_match(if_match, found.version)
    await service.delete_policy(session, principal.workspace_id, found)
