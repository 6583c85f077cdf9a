from sqlalchemy import Select, bindparam, select

from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.models import Trigger

BY_POSITION = Keyset(
    "position", [SortColumn(Trigger.position), SortColumn(Trigger.name), SortColumn(Trigger.id)]
)


# Read on every change of a ticket: built once, since building a statement costs more than running it.
_ACTIVE_TRIGGERS = (
    select(Trigger)
    .where(Trigger.workspace_id == bindparam("workspace_id"), Trigger.active)
    .order_by(Trigger.position, Trigger.name, Trigger.id)
)


class TriggerRepository(ScopedRepository[Trigger]):
    model = Trigger
    resource = "Trigger"

    def filtered(self, *, active: bool | None = None, event: str | None = None) -> Select[tuple[Trigger]]:
        statement = self.select()
        if active is not None:
            statement = statement.where(Trigger.active == active)
        if event is not None:
            statement = statement.where(Trigger.events.contains([event]))
        return statement

    async def active_in_order(self) -> list[Trigger]:
        return list(
            (await self.session.execute(_ACTIVE_TRIGGERS, {"workspace_id": self.workspace_id})).scalars()
        )
