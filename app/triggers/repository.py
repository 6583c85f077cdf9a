from sqlalchemy import Select

from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.models import Trigger

BY_POSITION = Keyset(
    "position", [SortColumn(Trigger.position), SortColumn(Trigger.name), SortColumn(Trigger.id)]
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
