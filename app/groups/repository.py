from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import Select, delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert

from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.kit.search import like_pattern, search_terms
from app.kit.time import utcnow
from app.models import Group, GroupMember, Ticket

BY_NAME = Keyset("name", [SortColumn(Group.name), SortColumn(Group.id)])


class GroupRepository(ScopedRepository[Group]):
    model = Group
    resource = "Group"

    def filtered(self, *, q: str | None = None) -> Select[tuple[Group]]:
        statement = self.select()
        for term in search_terms(q or ""):
            statement = statement.where(Group.search_text.like(like_pattern(term)))
        return statement

    async def member_counts(self, group_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The number of members of each group, for a whole page at once."""
        if not group_ids:
            return {}
        statement = (
            select(GroupMember.group_id, func.count())
            .where(GroupMember.workspace_id == self.workspace_id, GroupMember.group_id.in_(group_ids))
            .group_by(GroupMember.group_id)
        )
        return {group_id: count for group_id, count in await self.session.execute(statement)}

    async def has_tickets(self, group_id: UUID) -> bool:
        statement = select(
            exists().where(Ticket.workspace_id == self.workspace_id, Ticket.group_id == group_id)
        )
        return bool(await self.session.scalar(statement))

    async def add_member(self, group_id: UUID, agent_id: UUID) -> bool:
        """Whether the agent was added (False: already a member)."""
        statement = (
            insert(GroupMember)
            .values(workspace_id=self.workspace_id, group_id=group_id, agent_id=agent_id)
            .on_conflict_do_nothing()
            .returning(GroupMember.agent_id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def remove_member(self, group_id: UUID, agent_id: UUID) -> bool:
        """Whether the agent was removed (False: not a member)."""
        statement = (
            delete(GroupMember)
            .where(
                GroupMember.workspace_id == self.workspace_id,
                GroupMember.group_id == group_id,
                GroupMember.agent_id == agent_id,
            )
            .returning(GroupMember.agent_id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def touch(self, group_id: UUID) -> None:
        """Bump the version of a group whose members changed, so that its ETag follows `member_count`."""
        await self.session.execute(
            update(Group)
            .where(Group.workspace_id == self.workspace_id, Group.id == group_id)
            .values(version=Group.version + 1, updated_at=utcnow())
        )
