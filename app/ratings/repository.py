from datetime import datetime
from uuid import UUID

from app.kit.pagination import Keyset, PageParams, SortColumn
from app.kit.repository import ScopedRepository
from app.models import TicketRating

NEWEST_FIRST = Keyset("id", [SortColumn(TicketRating.id, descending=True)])


class RatingRepository(ScopedRepository[TicketRating]):
    model = TicketRating
    resource = "Rating"

    async def of_solve(self, ticket_id: UUID, solved_at: datetime) -> TicketRating | None:
        statement = self.select().where(
            TicketRating.ticket_id == ticket_id, TicketRating.solved_at == solved_at
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(self, ticket_id: UUID, page: PageParams) -> tuple[list[TicketRating], str | None]:
        statement = self.select().where(TicketRating.ticket_id == ticket_id)
        return await self.paginate(statement, NEWEST_FIRST, page)
