from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from app.api.deps import Admin, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.custom_fields import service
from app.custom_fields.repository import BY_POSITION, CustomFieldRepository
from app.custom_fields.schemas import CustomFieldCreate, CustomFieldOut, CustomFieldUpdate
from app.kit.http import IfMatch, check_if_match, set_etag
from app.kit.pagination import PageQuery
from app.kit.schemas import Page
from app.models import CustomFieldDefinition
from app.models.enums import CustomFieldEntity

router = APIRouter(prefix="/v1/custom-fields", tags=["Custom fields"], route_class=UnitOfWorkRoute)


@router.get("", response_model=Page[CustomFieldOut])
async def list_custom_fields(
    session: Session,
    principal: Viewer,
    page: PageQuery,
    entity: Annotated[
        CustomFieldEntity | None, Query(description="Only the fields of tickets or contacts")
    ] = None,
    active: Annotated[bool | None, Query(description="Only active (true) or inactive (false) fields")] = None,
) -> Page[CustomFieldOut]:
    """The custom field definitions of the workspace, in display order."""
    repo = CustomFieldRepository(session, principal.workspace_id)
    statement = repo.select()
    if entity is not None:
        statement = statement.where(CustomFieldDefinition.entity == entity)
    if active is not None:
        statement = statement.where(CustomFieldDefinition.active == active)
    items, next_cursor = await repo.paginate(statement, BY_POSITION, page)
    return Page(items=items, next_cursor=next_cursor)


@router.post("", response_model=CustomFieldOut, status_code=status.HTTP_201_CREATED)
async def create_custom_field(
    data: CustomFieldCreate, session: Session, principal: Admin, response: Response
):
    """Dropdown and multiselect fields need `options`; regex fields need a `pattern`."""
    created = await service.create_custom_field(session, principal.workspace_id, data)
    set_etag(response, created.version)
    return created


@router.get("/{field_id}", response_model=CustomFieldOut)
async def get_custom_field(field_id: UUID, session: Session, principal: Viewer, response: Response):
    found = await service.get_custom_field(session, principal.workspace_id, field_id)
    set_etag(response, found.version)
    return found


@router.patch("/{field_id}", response_model=CustomFieldOut)
async def update_custom_field(
    field_id: UUID,
    data: CustomFieldUpdate,
    session: Session,
    principal: Admin,
    response: Response,
    if_match: IfMatch = None,
):
    """The entity, key and type of a field cannot change."""
    found = await service.get_custom_field(session, principal.workspace_id, field_id, for_update=True)
    check_if_match(if_match, found.version)
    updated = await service.update_custom_field(session, principal.workspace_id, found, data)
    set_etag(response, updated.version)
    return updated


@router.delete("/{field_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_custom_field(
    field_id: UUID, session: Session, principal: Admin, if_match: IfMatch = None
) -> None:
    """Refused with 409 while any ticket or contact has a value for the field: deactivate it instead."""
    found = await service.get_custom_field(session, principal.workspace_id, field_id, for_update=True)
    check_if_match(if_match, found.version)
    await service.delete_custom_field(session, principal.workspace_id, found)
