from uuid import UUID

from sqlalchemy import Select, select

from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.kit.search import like_pattern, search_terms
from app.models import GroupMember, Macro

BY_POSITION = Keyset("position", [SortColumn(Macro.position), SortColumn(Macro.name), SortColumn(Macro.id)])


class MacroRepository(ScopedRepository[Macro]):
    model = Macro
    resource = "Macro"

    def filtered(
        self, *, active: bool | None = None, group_id: UUID | None = None, q: str | None = None
    ) -> Select[tuple[Macro]]:
        statement = self.select()
        if active is not None:
            statement = statement.where(Macro.active == active)
        if group_id is not None:
            statement = statement.where(Macro.group_id == group_id)
        for term in search_terms(q or ""):
            statement = statement.where(Macro.search_text.like(like_pattern(term)))
        return statement

    async def is_group_member(self, group_id: UUID, agent_id: UUID) -> bool:
        statement = select(
            select(GroupMember.agent_id)
            .where(
                GroupMember.workspace_id == self.workspace_id,
                GroupMember.group_id == group_id,
                GroupMember.agent_id == agent_id,
            )
            .exists()
        )
        return bool(await self.session.scalar(statement))
