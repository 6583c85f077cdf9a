"""The base of every repository: each statement starts from the caller's workspace."""

import functools
from collections.abc import Sequence
from typing import Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy import Select, bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.kit.pagination import Keyset, PageParams
from app.kit.time import utcnow

ModelT = TypeVar("ModelT")


@functools.cache
def _by_id(model: type[Any], for_update: bool) -> Select[Any]:
    """Built once per model: on the hot paths, building a statement costs more than running it."""
    statement = select(model).where(
        model.workspace_id == bindparam("scope_workspace_id"), model.id == bindparam("scope_id")
    )
    return statement.with_for_update() if for_update else statement


async def exists_in_workspace(session: AsyncSession, model: type[Any], workspace_id: UUID, id: UUID) -> bool:
    """Whether the workspace has a row of `model` with this id."""
    statement = select(exists().where(model.workspace_id == workspace_id, model.id == id))
    return bool(await session.scalar(statement))


async def write_changes(session: AsyncSession, instance: ModelT, values: dict[str, Any]) -> ModelT:
    """Write `values` and bump the version; `updated_at` moves only when something changed."""
    changed = {key: value for key, value in values.items() if getattr(instance, key) != value}
    if not changed:
        return instance
    for key, value in changed.items():
        setattr(instance, key, value)
    if hasattr(instance, "version"):
        instance.version += 1  # type: ignore[attr-defined]
        instance.updated_at = utcnow()  # type: ignore[attr-defined]
    await session.flush()
    return instance


class ScopedRepository(Generic[ModelT]):
    model: type[ModelT]
    # How errors name the resource: "Agent not found".
    resource: str

    def __init__(self, session: AsyncSession, workspace_id: UUID) -> None:
        self.session = session
        self.workspace_id = workspace_id

    def select(self) -> Select[tuple[ModelT]]:
        return select(self.model).where(self.model.workspace_id == self.workspace_id)  # type: ignore[attr-defined]

    async def get(self, id: UUID, *, for_update: bool = False) -> ModelT | None:
        statement = _by_id(self.model, for_update)
        parameters = {"scope_workspace_id": self.workspace_id, "scope_id": id}
        return (await self.session.execute(statement, parameters)).scalar_one_or_none()

    async def get_or_404(self, id: UUID, *, for_update: bool = False) -> ModelT:
        found = await self.get(id, for_update=for_update)
        if found is None:
            raise NotFound(self.resource)
        return found

    async def get_many(self, ids: Sequence[UUID]) -> list[ModelT]:
        if not ids:
            return []
        statement = self.select().where(self.model.id.in_(ids))  # type: ignore[attr-defined]
        return list((await self.session.execute(statement)).scalars())

    async def exists(self, id: UUID) -> bool:
        return await exists_in_workspace(self.session, self.model, self.workspace_id, id)

    async def add(self, instance: ModelT) -> ModelT:
        instance.workspace_id = self.workspace_id  # type: ignore[attr-defined]
        self.session.add(instance)
        await self.session.flush()
        return instance

    async def update(self, instance: ModelT, values: dict[str, Any]) -> ModelT:
        return await write_changes(self.session, instance, values)

    async def delete(self, instance: ModelT) -> None:
        await self.session.delete(instance)
        await self.session.flush()

    async def paginate(
        self, statement: Select[Any], keyset: Keyset, page: PageParams
    ) -> tuple[list[Any], str | None]:
        rows = (await self.session.execute(keyset.apply(statement, page.cursor, page.limit))).scalars().all()
        return keyset.page(rows, page.limit)
