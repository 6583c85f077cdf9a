from sqlalchemy import Select
from sqlalchemy.dialects.postgresql import insert

from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.models import Automation, AutomationRescan

BY_POSITION = Keyset(
    "position", [SortColumn(Automation.position), SortColumn(Automation.name), SortColumn(Automation.id)]
)


class AutomationRepository(ScopedRepository[Automation]):
    model = Automation
    resource = "Automation"

    def filtered(self, *, active: bool | None = None) -> Select[tuple[Automation]]:
        statement = self.select()
        if active is not None:
            statement = statement.where(Automation.active == active)
        return statement

    async def rescan_tickets(self) -> None:
        """Have the workers work out every open ticket's next automation time again, from the start."""
        statement = insert(AutomationRescan).values(workspace_id=self.workspace_id, after_ticket_id=None)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[AutomationRescan.workspace_id], set_={"after_ticket_id": None}
            )
        )
