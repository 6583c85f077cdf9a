from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.agents import service as agents
from app.categories.repository import BY_POSITION, CategoryRepository
from app.categories.schemas import CategoryCreate, CategoryOut, CategoryUpdate
from app.errors import Conflict, NotFound, Unprocessable
from app.kit.ids import new_id
from app.kit.pagination import PageParams
from app.kit.schemas import Page
from app.kit.search import search_key
from app.models import Category


async def get_category(
    session: AsyncSession, workspace_id: UUID, category_id: UUID, *, for_update: bool = False
) -> Category:
    return await CategoryRepository(session, workspace_id).get_or_404(category_id, for_update=for_update)


async def describe_categories(
    session: AsyncSession, workspace_id: UUID, categories: Sequence[Category]
) -> list[CategoryOut]:
    """The categories as the API shows them, with the watchers of all of them read in one query."""
    watchers = await CategoryRepository(session, workspace_id).watcher_ids_by_category(
        [c.id for c in categories]
    )
    return [CategoryOut.of(category, watchers.get(category.id, [])) for category in categories]


async def describe_category(session: AsyncSession, workspace_id: UUID, category: Category) -> CategoryOut:
    [described] = await describe_categories(session, workspace_id, [category])
    return described


async def list_categories(
    session: AsyncSession,
    workspace_id: UUID,
    page: PageParams,
    *,
    parent_id: UUID | None = None,
    root: bool | None = None,
    active: bool | None = None,
    q: str | None = None,
) -> Page[CategoryOut]:
    if root and parent_id is not None:
        raise Unprocessable("Filter by parent_id or by root=true, not both", field="root")
    repo = CategoryRepository(session, workspace_id)
    statement = repo.filtered(parent_id=parent_id, root=root, active=active, q=q)
    categories, next_cursor = await repo.paginate(statement, BY_POSITION, page)
    return Page(items=await describe_categories(session, workspace_id, categories), next_cursor=next_cursor)


async def create_category(session: AsyncSession, workspace_id: UUID, data: CategoryCreate) -> Category:
    repo = CategoryRepository(session, workspace_id)
    if data.parent_id is not None:
        await _require_parent(repo, data.parent_id)
    category = Category(id=new_id(), search_text=search_key(data.name), **data.model_dump())
    return await repo.add(category)


async def update_category(
    session: AsyncSession, workspace_id: UUID, category: Category, data: CategoryUpdate
) -> Category:
    repo = CategoryRepository(session, workspace_id)
    values = data.changes()
    parent_id = values.get("parent_id")
    if parent_id is not None and parent_id != category.parent_id:
        await repo.lock_tree()
        await _require_parent(repo, parent_id)
        if await repo.is_in_subtree(parent_id, category.id):
            raise Unprocessable(
                "A category cannot be placed under itself or one of its descendants",
                field="parent_id",
                code="category_cycle",
            )
    if "name" in values:
        values["search_text"] = search_key(values["name"])
    return await repo.update(category, values)


async def delete_category(session: AsyncSession, workspace_id: UUID, category: Category) -> None:
    repo = CategoryRepository(session, workspace_id)
    if await repo.has_children(category.id):
        raise Conflict("The category has subcategories: move or delete them first", code="category_in_use")
    if await repo.has_tickets(category.id):
        raise Conflict(
            "Tickets use the category: move them to another category first", code="category_in_use"
        )
    await repo.delete(category)


async def add_watcher(session: AsyncSession, workspace_id: UUID, category: Category, agent_id: UUID) -> None:
    await agents.get_agent(session, workspace_id, agent_id)
    repo = CategoryRepository(session, workspace_id)
    if await repo.add_watcher(category.id, agent_id):
        await repo.touch(category.id)


async def remove_watcher(
    session: AsyncSession, workspace_id: UUID, category: Category, agent_id: UUID
) -> None:
    repo = CategoryRepository(session, workspace_id)
    if not await repo.remove_watcher(category.id, agent_id):
        raise NotFound("Watcher", field="agent_id")
    await repo.touch(category.id)


async def _require_parent(repo: CategoryRepository, parent_id: UUID) -> None:
    if not await repo.exists(parent_id):
        raise Unprocessable("parent_id: no such category", field="parent_id", code="unknown_reference")
