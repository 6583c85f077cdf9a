from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import Select, delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import aliased

from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.kit.search import like_pattern, search_terms
from app.kit.time import utcnow
from app.models import Category, CategoryWatcher, Ticket

BY_POSITION = Keyset(
    "position", [SortColumn(Category.position), SortColumn(Category.name), SortColumn(Category.id)]
)


def subtree_ids(workspace_id: UUID, category_id: UUID) -> Select[tuple[UUID]]:
    """The ids of the category and of all its descendants, e.g. `Ticket.category_id.in_(subtree_ids(...))`."""
    subtree = (
        select(Category.id)
        .where(Category.workspace_id == workspace_id, Category.id == category_id)
        .cte(recursive=True)
    )
    child = aliased(Category)
    # UNION (not UNION ALL) ends the recursion even on a cycle.
    subtree = subtree.union(
        select(child.id).where(child.workspace_id == workspace_id, child.parent_id == subtree.c.id)
    )
    return select(subtree.c.id)


class CategoryRepository(ScopedRepository[Category]):
    model = Category
    resource = "Category"

    def filtered(
        self,
        *,
        parent_id: UUID | None = None,
        root: bool | None = None,
        active: bool | None = None,
        q: str | None = None,
    ) -> Select[tuple[Category]]:
        statement = self.select()
        if parent_id is not None:
            statement = statement.where(Category.parent_id == parent_id)
        if root is not None:
            statement = statement.where(
                Category.parent_id.is_(None) if root else Category.parent_id.is_not(None)
            )
        if active is not None:
            statement = statement.where(Category.active == active)
        for term in search_terms(q or ""):
            statement = statement.where(Category.search_text.like(like_pattern(term)))
        return statement

    async def watcher_ids_by_category(self, category_ids: Sequence[UUID]) -> dict[UUID, list[UUID]]:
        """The watchers of each category, for a whole page at once."""
        if not category_ids:
            return {}
        statement = (
            select(CategoryWatcher.category_id, CategoryWatcher.agent_id)
            .where(
                CategoryWatcher.workspace_id == self.workspace_id,
                CategoryWatcher.category_id.in_(category_ids),
            )
            .order_by(CategoryWatcher.category_id, CategoryWatcher.agent_id)
        )
        watchers: dict[UUID, list[UUID]] = {}
        for category_id, agent_id in await self.session.execute(statement):
            watchers.setdefault(category_id, []).append(agent_id)
        return watchers

    async def lock_tree(self) -> None:
        """Serialise the moves within the workspace, so that two concurrent moves cannot make a cycle."""
        key = func.hashtextextended(f"categories:{self.workspace_id}", 0)
        await self.session.execute(select(func.pg_advisory_xact_lock(key)))

    async def is_in_subtree(self, candidate_id: UUID, category_id: UUID) -> bool:
        """Whether `candidate_id` is the category or one of its descendants."""
        subtree = subtree_ids(self.workspace_id, category_id)
        statement = subtree.where(subtree.selected_columns.id == candidate_id).exists().select()
        return bool(await self.session.scalar(statement))

    async def has_children(self, category_id: UUID) -> bool:
        statement = self.select().where(Category.parent_id == category_id).exists().select()
        return bool(await self.session.scalar(statement))

    async def has_tickets(self, category_id: UUID) -> bool:
        statement = select(
            exists().where(Ticket.workspace_id == self.workspace_id, Ticket.category_id == category_id)
        )
        return bool(await self.session.scalar(statement))

    async def add_watcher(self, category_id: UUID, agent_id: UUID) -> bool:
        """Whether the agent was added (False: already watching)."""
        statement = (
            insert(CategoryWatcher)
            .values(workspace_id=self.workspace_id, category_id=category_id, agent_id=agent_id)
            .on_conflict_do_nothing()
            .returning(CategoryWatcher.agent_id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def remove_watcher(self, category_id: UUID, agent_id: UUID) -> bool:
        """Whether the agent was removed (False: not watching)."""
        statement = (
            delete(CategoryWatcher)
            .where(
                CategoryWatcher.workspace_id == self.workspace_id,
                CategoryWatcher.category_id == category_id,
                CategoryWatcher.agent_id == agent_id,
            )
            .returning(CategoryWatcher.agent_id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def touch(self, category_id: UUID) -> None:
        """Bump the version of a category whose watchers changed, so that its ETag follows `watcher_ids`."""
        await self.session.execute(
            update(Category)
            .where(Category.workspace_id == self.workspace_id, Category.id == category_id)
            .values(version=Category.version + 1, updated_at=utcnow())
        )
