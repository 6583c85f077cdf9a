"""Saved views: a named list query (the list's own parameters), a sort and columns, seen by its owner,
some groups or everyone."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.errors import AppError, BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from app.kit.http import check_if_match
from app.kit.ids import new_id
from app.kit.pagination import PageParams
from app.models import Ticket, TicketView
from app.models.enums import Permission, Role, ViewVisibility
from app.tickets.filters import TicketFilters, filters_of_query
from app.tickets.repository import TicketRepository
from app.views.repository import ViewRepository
from app.views.schemas import COLUMN_NAMES, ViewCount, ViewCreate, ViewUpdate

# What `me` stands for while a view is checked, not run: whoever opens it later.
_ANY_AGENT = UUID(int=0)
# The fields of a built-in view that may change.
_BUILT_IN_CHANGES = frozenset({"position", "hidden"})


def may_share(principal: Principal) -> bool:
    """Shared views shape every agent's screen: admins make them, or agents whose custom role manages
    the workspace's reference data."""
    if principal.permissions is not None:
        return Permission.reference_data_manage in principal.permissions
    return principal.can(Role.admin)


class ViewService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.repo = ViewRepository(session, principal.workspace_id)
        self.ticket_repo = TicketRepository(session, principal.workspace_id)

    async def page(self, page: PageParams, *, include_hidden: bool) -> tuple[list[TicketView], str | None]:
        return await self.repo.page(self.principal.agent_id, page, include_hidden=include_hidden)

    async def get(self, view_id: UUID, *, for_update: bool = False) -> TicketView:
        view = await self.repo.get_visible(self.principal.agent_id, view_id, for_update=for_update)
        if view is None:
            raise NotFound("View")
        return view

    async def create(self, data: ViewCreate) -> TicketView:
        values = data.model_dump()
        await self._check(values, data.model_fields_set)
        if values["position"] is None:
            values["position"] = await self.repo.next_position()
        owner = self.principal.agent_id if data.visibility is ViewVisibility.personal else None
        return await self.repo.add(
            TicketView(id=new_id(), owner_id=owner, built_in=None, hidden=False, **values)
        )

    async def update(self, view_id: UUID, data: ViewUpdate, if_match: str | None) -> TicketView:
        view = await self.get(view_id, for_update=True)
        check_if_match(if_match, view.version)
        self._refuse_unless_may_change(view)
        given = data.model_dump(exclude_unset=True)
        if view.built_in is not None and set(given) - _BUILT_IN_CHANGES:
            name = sorted(set(given) - _BUILT_IN_CHANGES)[0]
            raise Unprocessable(
                f"{name}: a built-in view can only be reordered or hidden", field=name, code="built_in_view"
            )
        values = {
            name: getattr(view, name)
            for name in ("name", "filters", "sort", "columns", "visibility", "group_ids", "position")
        } | given
        if values["visibility"] is not ViewVisibility.groups and "group_ids" not in given:
            values["group_ids"] = []
        await self._check(values, set(given))
        if "visibility" in given:
            shared = values["visibility"] is not ViewVisibility.personal
            values["owner_id"] = None if shared else self.principal.agent_id
        return await self.repo.update(view, values)

    async def delete(self, view_id: UUID, if_match: str | None) -> None:
        view = await self.get(view_id, for_update=True)
        check_if_match(if_match, view.version)
        self._refuse_unless_may_change(view)
        if view.built_in is not None:
            raise Conflict("A built-in view cannot be deleted; hide it instead", code="built_in_view")
        await self.repo.delete(view)

    async def filters(self, view: TicketView) -> TicketFilters:
        """The view's filters for the caller: `me` is the caller. A view that no longer runs (a custom
        field it filters on was removed) is a 400 naming the filter."""
        return await filters_of_query(
            self.session, self.principal, view.filters, me=self.principal.agent_id, field="filters"
        )

    async def tickets(self, view: TicketView, page: PageParams) -> tuple[list[Ticket], str | None]:
        return await self.ticket_repo.list_page(self.principal, await self.filters(view), view.sort, page)

    async def count(self, view: TicketView) -> int:
        return await self.ticket_repo.count(self.principal, await self.filters(view))

    async def counts(self, view_ids: Sequence[UUID] | None) -> list[ViewCount]:
        """Each view's count, in list order; a view the caller cannot see is left out, one that cannot
        run for the caller says why."""
        counted = []
        for view in await self.repo.many_visible(self.principal.agent_id, view_ids):
            try:
                counted.append(ViewCount(view_id=view.id, count=await self.count(view)))
            except BadRequest as error:
                counted.append(ViewCount(view_id=view.id, count=None, error=error.detail))
        return counted

    def _refuse_unless_may_change(self, view: TicketView) -> None:
        if view.visibility is not ViewVisibility.personal and not may_share(self.principal):
            raise Forbidden("Only admins change shared views", code="insufficient_role")

    async def _check(self, values: dict[str, Any], given: set[str]) -> None:
        """Refuse what a view could not be: the list would refuse its filters, an unknown column, a
        shared view by someone who may not share, a personal one without an agent to own it."""
        visibility = values["visibility"]
        if visibility is ViewVisibility.personal:
            if self.principal.agent_id is None:
                raise Unprocessable(
                    "visibility: a personal view belongs to an agent; use an agent token, or share it",
                    field="visibility",
                )
        elif not may_share(self.principal):
            raise Forbidden("Only admins share views", code="insufficient_role")
        group_ids = values["group_ids"]
        if (visibility is ViewVisibility.groups) != bool(group_ids):
            raise Unprocessable(
                "group_ids: given exactly when the view is shared with groups", field="group_ids"
            )
        missing = await self.repo.missing_groups(group_ids) if group_ids else []
        if missing:
            position = group_ids.index(missing[0])
            raise Unprocessable(
                f"group_ids.{position}: no such group",
                field=f"group_ids.{position}",
                code="unknown_reference",
            )
        columns = values["columns"]
        unknown = [name for name in columns if name not in COLUMN_NAMES]
        if unknown or len(set(columns)) != len(columns):
            raise Unprocessable(
                f"columns: {unknown[0]!r} is not a ticket field" if unknown else "columns: each at most once",
                field="columns",
            )
        if "filters" in given or not given:
            try:
                await filters_of_query(
                    self.session,
                    self.principal,
                    values["filters"],
                    me=self.principal.agent_id or _ANY_AGENT,
                    field="filters",
                )
            except AppError as error:
                raise Unprocessable(error.detail, field=error.field, code=error.code) from None
