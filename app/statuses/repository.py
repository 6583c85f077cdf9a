from sqlalchemy import update

from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.models import TicketStatus
from app.models.enums import StatusKind

BY_POSITION = Keyset("position", [SortColumn(TicketStatus.position), SortColumn(TicketStatus.id)])


class StatusRepository(ScopedRepository[TicketStatus]):
    model = TicketStatus
    resource = "Status"

    async def clear_default(self, kind: StatusKind) -> None:
        await self.session.execute(
            update(TicketStatus)
            .where(
                TicketStatus.workspace_id == self.workspace_id,
                TicketStatus.kind == kind,
                TicketStatus.is_default,
            )
            .values(is_default=False, version=TicketStatus.version + 1)
        )
