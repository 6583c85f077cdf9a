"""The incremental export's queries: tickets in (updated_at, id) order, up to a horizon nothing can still
be written below."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import text, tuple_

from app.models import Ticket
from app.tickets.repository import TicketRepository

# The moment every change still to commit will be stamped at or after: the start of the oldest
# transaction running in this database (a change stamps its ticket with its transaction's start, or
# later), else now. A ticket committed late with an older `updated_at` is thus never passed over.
_HORIZON = text(
    """
    SELECT least(statement_timestamp(), min(xact_start)) - make_interval(secs => :margin)
    FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
      AND backend_type = 'client backend'
    """
)


class ExportRepository:
    def __init__(self, tickets: TicketRepository) -> None:
        self.tickets = tickets

    async def horizon(self, margin_seconds: float) -> datetime:
        return (await self.tickets.session.execute(_HORIZON, {"margin": margin_seconds})).scalar_one()

    async def page(self, after: tuple[datetime, UUID], horizon: datetime, limit: int) -> list[Ticket]:
        """Every ticket of the workspace, deleted ones too, changed after the position and before the
        horizon; one more than the page, to tell whether more follow."""
        statement = (
            self.tickets.select()
            .where(
                tuple_(Ticket.updated_at, Ticket.id) > tuple_(*after),
                Ticket.updated_at < horizon,
            )
            .order_by(Ticket.updated_at, Ticket.id)
            .limit(limit + 1)
        )
        return list((await self.tickets.session.execute(statement)).scalars())
