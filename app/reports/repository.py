from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, literal_column, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from app.auth.principal import Principal
from app.models import Ticket, TicketSla
from app.models.enums import SlaState
from app.tickets.repository import TicketRepository

KEY_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "priority": Ticket.priority,
    "group": Ticket.group_id,
    "agent": Ticket.assignee_id,
    "category": Ticket.category_id,
}
_COUNTING = (SlaState.running, SlaState.paused)


class ReportRepository:
    def __init__(self, tickets: TicketRepository) -> None:
        self.tickets = tickets

    async def sla_figures(
        self, principal: Principal, start: datetime, end: datetime, group_by: str
    ) -> list[Row[Any]]:
        """Per key and metric: the tickets, met, breached, running, and the median and 90th percentile of
        the seconds counted until fulfilled; and per key, the tickets with any clock."""
        visible = (
            self.tickets.visible(principal)
            .where(Ticket.created_at >= start, Ticket.created_at < end, Ticket.deleted_at.is_(None))
            .subquery()
        )
        key = getattr(visible.c, KEY_COLUMNS[group_by].key)
        fulfilled = TicketSla.state == SlaState.fulfilled
        breached = TicketSla.cycles_breached > 0
        statement = (
            select(
                key.label("key"),
                TicketSla.metric,
                # 1 on the rows that total a key over its metrics.
                func.grouping(TicketSla.metric).label("all_metrics"),
                func.count(func.distinct(TicketSla.ticket_id)).label("tickets"),
                func.count().filter(breached).label("breached"),
                func.count().filter(~breached & TicketSla.state.in_(_COUNTING)).label("running"),
                func.count()
                .filter(~breached & TicketSla.state.not_in(_COUNTING) & (TicketSla.cycles_fulfilled > 0))
                .label("met"),
                _percentile(0.5, fulfilled).label("median_seconds"),
                _percentile(0.9, fulfilled).label("p90_seconds"),
            )
            .join(
                TicketSla,
                and_(TicketSla.workspace_id == visible.c.workspace_id, TicketSla.ticket_id == visible.c.id),
            )
            .group_by(func.grouping_sets(tuple_(key, TicketSla.metric), tuple_(key)))
            .order_by(key, TicketSla.metric)
        )
        return list((await self.tickets.session.execute(statement)).all())


def _percentile(fraction: float, which: Any) -> Any:
    return (
        func.percentile_cont(literal_column(str(fraction)))
        .within_group(TicketSla.elapsed_seconds)
        .filter(which)
    )
