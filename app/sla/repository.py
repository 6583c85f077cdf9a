from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import Select, bindparam, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.kit.search import like_pattern, search_terms
from app.models import BusinessCalendar, SlaPolicy, Ticket, TicketSla
from app.models.enums import SlaState

CALENDARS_BY_NAME = Keyset("name", [SortColumn(BusinessCalendar.name), SortColumn(BusinessCalendar.id)])
POLICIES_BY_POSITION = Keyset(
    "position", [SortColumn(SlaPolicy.position), SortColumn(SlaPolicy.name), SortColumn(SlaPolicy.id)]
)


# Read on every change of a ticket: built once, since building a statement costs more than running it.
_CLOCKS = select(TicketSla).where(
    TicketSla.workspace_id == bindparam("workspace_id"), TicketSla.ticket_id == bindparam("ticket_id")
)
_LOCKED_CLOCKS = _CLOCKS.with_for_update()


class CalendarRepository(ScopedRepository[BusinessCalendar]):
    model = BusinessCalendar
    resource = "Calendar"

    def filtered(self, *, q: str | None = None) -> Select[tuple[BusinessCalendar]]:
        statement = self.select()
        for term in search_terms(q or ""):
            statement = statement.where(BusinessCalendar.name.ilike(like_pattern(term)))
        return statement

    async def running_clocks(self, calendar_id: UUID) -> list[TicketSla]:
        """The clocks counting in this calendar's hours right now, locked."""
        statement = (
            select(TicketSla)
            .where(
                TicketSla.workspace_id == self.workspace_id,
                TicketSla.calendar_id == calendar_id,
                TicketSla.business_hours,
                TicketSla.state == SlaState.running,
            )
            .with_for_update()
        )
        return list((await self.session.execute(statement)).scalars())


class PolicyRepository(ScopedRepository[SlaPolicy]):
    model = SlaPolicy
    resource = "SLA policy"

    def filtered(self, *, active: bool | None = None) -> Select[tuple[SlaPolicy]]:
        statement = self.select()
        if active is not None:
            statement = statement.where(SlaPolicy.active == active)
        return statement


class ClockRepository:
    def __init__(self, session: AsyncSession, workspace_id: UUID) -> None:
        self.session = session
        self.workspace_id = workspace_id

    async def of_ticket(self, ticket_id: UUID, *, lock: bool = True) -> list[TicketSla]:
        parameters = {"workspace_id": self.workspace_id, "ticket_id": ticket_id}
        statement = _LOCKED_CLOCKS if lock else _CLOCKS
        return list((await self.session.execute(statement, parameters)).scalars())


def due_tickets(now: datetime, limit: int) -> Select[tuple[UUID, UUID]]:
    """(workspace, ticket) of clocks with a warning or a breach to announce, soonest first."""
    return (
        select(TicketSla.workspace_id, TicketSla.ticket_id)
        .where(TicketSla.next_check_at <= now)
        .order_by(TicketSla.next_check_at)
        .limit(limit)
    )


def lock_tickets(keys: Sequence[tuple[UUID, UUID]]) -> Select[tuple[Ticket]]:
    """The tickets, locked; those another transaction holds are skipped (it will be looked at again)."""
    return (
        select(Ticket)
        .where(tuple_(Ticket.workspace_id, Ticket.id).in_(keys))
        .with_for_update(skip_locked=True)
    )


def clocks_of(keys: Sequence[tuple[UUID, UUID]]) -> Select[tuple[TicketSla]]:
    return select(TicketSla).where(tuple_(TicketSla.workspace_id, TicketSla.ticket_id).in_(keys))
