from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import Select, func, or_, select

from app.kit.pagination import Keyset, PageParams, SortColumn
from app.kit.repository import ScopedRepository
from app.models import Group, GroupMember, TicketView
from app.models.enums import ViewVisibility

VIEW_ORDER = Keyset("position", [SortColumn(TicketView.position), SortColumn(TicketView.id)])


class ViewRepository(ScopedRepository[TicketView]):
    model = TicketView
    resource = "View"

    def visible(self, agent_id: UUID | None) -> Select[tuple[TicketView]]:
        """The views an agent sees: everyone's, its groups', its own. A caller that is no agent (an API
        key) sees every shared view and no personal one."""
        statement = self.select()
        if agent_id is None:
            return statement.where(TicketView.visibility != ViewVisibility.personal)
        groups = select(func.array_agg(GroupMember.group_id)).where(
            GroupMember.workspace_id == self.workspace_id, GroupMember.agent_id == agent_id
        )
        return statement.where(
            or_(
                TicketView.visibility == ViewVisibility.everyone,
                (TicketView.visibility == ViewVisibility.groups)
                & TicketView.group_ids.overlap(groups.scalar_subquery()),
                (TicketView.visibility == ViewVisibility.personal) & (TicketView.owner_id == agent_id),
            )
        )

    async def get_visible(self, agent_id: UUID | None, view_id: UUID, *, for_update: bool = False):
        statement = self.visible(agent_id).where(TicketView.id == view_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(self, agent_id: UUID | None, page: PageParams, *, include_hidden: bool):
        statement = self.visible(agent_id)
        if not include_hidden:
            statement = statement.where(TicketView.hidden.is_(False))
        return await self.paginate(statement, VIEW_ORDER, page)

    async def many_visible(self, agent_id: UUID | None, view_ids: Sequence[UUID] | None) -> list[TicketView]:
        """The views of `view_ids` the agent sees, or all it sees but hidden ones, in list order."""
        statement = self.visible(agent_id)
        if view_ids is None:
            statement = statement.where(TicketView.hidden.is_(False))
        else:
            statement = statement.where(TicketView.id.in_(view_ids))
        statement = statement.order_by(TicketView.position, TicketView.id).limit(100)
        return list((await self.session.execute(statement)).scalars())

    async def next_position(self) -> int:
        last = await self.session.scalar(
            select(func.max(TicketView.position)).where(TicketView.workspace_id == self.workspace_id)
        )
        return 0 if last is None else last + 10

    async def missing_groups(self, group_ids: Sequence[UUID]) -> list[UUID]:
        found = set(
            (
                await self.session.execute(
                    select(Group.id).where(Group.workspace_id == self.workspace_id, Group.id.in_(group_ids))
                )
            ).scalars()
        )
        return [group_id for group_id in group_ids if group_id not in found]
