"""The incremental export of tickets: every ticket, deleted ones too, in the order they last changed,
from a time or a cursor, for a data warehouse to keep a copy (as Zendesk's incremental export does).

Pages end before a horizon (see `ExportRepository.horizon`): the start of the oldest transaction still
running, and a margin for the clocks of the API processes, which stamp new tickets, against the
database's. Nothing can then commit behind a cursor, so that a client walking on with `next_cursor`
never misses a change; the price is that the export lags a few seconds, longer while a transaction
runs long. A ticket changed again comes again, in its new place.
"""

from datetime import UTC, datetime
from uuid import UUID

from app.errors import BadRequest
from app.exports.repository import ExportRepository
from app.exports.schemas import ExportedTicket, TicketExport
from app.kit.pagination import decode_cursor, encode_cursor
from app.models import Ticket
from app.tickets.repository import TicketRepository
from app.tickets.schemas import TicketMetricsOut, TicketOut

_ORDER = "export:updated_at"
# Before every id: a start time's position, so that tickets changed at that very time are given.
_FIRST_ID = UUID(int=0)
_BEGINNING = datetime(1, 1, 1, tzinfo=UTC)


def position(start_time: datetime | None, cursor: str | None) -> tuple[datetime, UUID]:
    """Where a page starts: after the cursor, at the start time, or (neither given) at the beginning."""
    if start_time is not None and cursor is not None:
        raise BadRequest("Give start_time or cursor, not both", field="cursor", code="invalid_filter")
    if cursor is None:
        return start_time or _BEGINNING, _FIRST_ID
    updated_at, ticket_id = decode_cursor(cursor, _ORDER, 2)
    if not isinstance(updated_at, datetime) or updated_at.tzinfo is None or not isinstance(ticket_id, UUID):
        raise BadRequest("The cursor is not valid", field="cursor", code="invalid_cursor")
    return updated_at, ticket_id


async def export_page(
    tickets: TicketRepository, after: tuple[datetime, UUID], limit: int, margin_seconds: float
) -> TicketExport:
    repository = ExportRepository(tickets)
    rows = await repository.page(after, await repository.horizon(margin_seconds), limit)
    page = rows[:limit]
    last = (page[-1].updated_at, page[-1].id) if page else after
    return TicketExport(
        items=[_exported(ticket) for ticket in page],
        next_cursor=encode_cursor(_ORDER, list(last)),
        end_of_stream=len(rows) <= limit,
    )


def _exported(ticket: Ticket) -> ExportedTicket:
    return ExportedTicket(
        **dict(TicketOut.model_validate(ticket)),
        deleted=ticket.deleted_at is not None,
        metrics=TicketMetricsOut.of(ticket),
    )
