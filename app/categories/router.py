from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from app.api.deps import Admin, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.categories import service
from app.categories.schemas import CategoryCreate, CategoryOut, CategoryUpdate
from app.kit.http import IfMatch, check_if_match, set_etag
from app.kit.pagination import PageQuery, SearchQuery
from app.kit.schemas import Page

router = APIRouter(prefix="/v1/categories", tags=["Categories"], route_class=UnitOfWorkRoute)


@router.get("", response_model=Page[CategoryOut])
async def list_categories(
    session: Session,
    principal: Viewer,
    page: PageQuery,
    parent_id: Annotated[UUID | None, Query(description="Only the direct children of this category")] = None,
    root: Annotated[bool | None, Query(description="true: only top-level categories")] = None,
    active: bool | None = None,
    q: SearchQuery = None,
) -> Page[CategoryOut]:
    """The support categories (danh mục hỗ trợ), by position then name."""
    return await service.list_categories(
        session, principal.workspace_id, page, parent_id=parent_id, root=root, active=active, q=q
    )


@router.post("", response_model=CategoryOut, status_code=status.HTTP_201_CREATED)
async def create_category(data: CategoryCreate, session: Session, principal: Admin, response: Response):
    created = await service.create_category(session, principal.workspace_id, data)
    set_etag(response, created.version)
    return await service.describe_category(session, principal.workspace_id, created)


@router.get("/{category_id}", response_model=CategoryOut)
async def get_category(category_id: UUID, session: Session, principal: Viewer, response: Response):
    found = await service.get_category(session, principal.workspace_id, category_id)
    set_etag(response, found.version)
    return await service.describe_category(session, principal.workspace_id, found)


@router.patch("/{category_id}", response_model=CategoryOut)
async def update_category(
    category_id: UUID,
    data: CategoryUpdate,
    session: Session,
    principal: Admin,
    response: Response,
    if_match: IfMatch = None,
):
    """A 422 on parent_id answers a move under the category itself or one of its descendants."""
    found = await service.get_category(session, principal.workspace_id, category_id, for_update=True)
    check_if_match(if_match, found.version)
    updated = await service.update_category(session, principal.workspace_id, found, data)
    set_etag(response, updated.version)
    return await service.describe_category(session, principal.workspace_id, updated)


@router.delete("/{category_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_category(
    category_id: UUID, session: Session, principal: Admin, if_match: IfMatch = None
) -> None:
    """Refused with 409 `category_in_use` while tickets use it or while it has subcategories."""
    found = await service.get_category(session, principal.workspace_id, category_id, for_update=True)
    check_if_match(if_match, found.version)
    await service.delete_category(session, principal.workspace_id, found)


@router.put("/{category_id}/watchers/{agent_id}", status_code=status.HTTP_204_NO_CONTENT)
async def add_category_watcher(category_id: UUID, agent_id: UUID, session: Session, principal: Admin) -> None:
    """Idempotent: the agent then follows every ticket of the category."""
    found = await service.get_category(session, principal.workspace_id, category_id)
    await service.add_watcher(session, principal.workspace_id, found, agent_id)


@router.delete("/{category_id}/watchers/{agent_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_category_watcher(
    category_id: UUID, agent_id: UUID, session: Session, principal: Admin
) -> None:
    """A 404 answers an agent that does not watch the category."""
    found = await service.get_category(session, principal.workspace_id, category_id)
    await service.remove_watcher(session, principal.workspace_id, found, agent_id)
