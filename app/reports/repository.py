from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Date, Row, and_, case, cast, func, literal_column, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from app.auth.principal import Principal
from app.models import Agent, Category, Group, Ticket, TicketRating, TicketSla
from app.models.enums import SlaState
from app.tickets.filters import TicketFilters
from app.tickets.repository import UNRESOLVED_KINDS, TicketRepository

KEY_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "priority": Ticket.priority,
    "group": Ticket.group_id,
    "agent": Ticket.assignee_id,
    "category": Ticket.category_id,
    "channel": Ticket.channel,
}
# The tables that name the ids a report is keyed by.
NAMED_BY: dict[str, Any] = {"group": Group, "agent": Agent, "category": Category}
# The backlog's ages: each bucket up to its number of days (excluded), the last without end.
AGE_BUCKETS = (
    ("under_1_day", 1),
    ("days_1_to_3", 3),
    ("days_3_to_7", 7),
    ("days_7_to_30", 30),
    ("over_30_days", None),
)
_COUNTING = (SlaState.running, SlaState.paused)


class ReportRepository:
    def __init__(self, tickets: TicketRepository) -> None:
        self.tickets = tickets

    def _created_in(
        self, principal: Principal, filters: TicketFilters, start: datetime, end: datetime
    ) -> Any:
        """The tickets the caller may see that match the filters, created in [start, end)."""
        return (
            self.tickets.filtered(principal, filters)
            .where(Ticket.created_at >= start, Ticket.created_at < end)
            .subquery()
        )

    async def names(self, group_by: str, ids: Sequence[Any]) -> dict[UUID, str]:
        """The names of the groups, agents or categories a report is keyed by."""
        model = NAMED_BY.get(group_by)
        wanted = [key for key in ids if isinstance(key, UUID)]
        if model is None or not wanted:
            return {}
        statement = select(model.id, model.name).where(
            model.workspace_id == self.tickets.workspace_id, model.id.in_(wanted)
        )
        return dict((await self.tickets.session.execute(statement)).all())

    async def volume(
        self,
        principal: Principal,
        filters: TicketFilters,
        start: datetime,
        end: datetime,
        group_by: str,
        time_zone: str,
    ) -> list[Row[Any]]:
        created = self._created_in(principal, filters, start, end)
        if group_by == "day":
            key = _local_day(created.c.created_at, time_zone)
        else:
            key = getattr(created.c, KEY_COLUMNS[group_by].key)
        statement = select(key.label("key"), func.count().label("tickets")).group_by(key).order_by(key)
        return list((await self.tickets.session.execute(statement)).all())

    async def times(
        self, principal: Principal, filters: TicketFilters, start: datetime, end: datetime, group_by: str
    ) -> list[Row[Any]]:
        """Per key: the median and 90th percentile of first reply and full resolution seconds, the next
        reply times added up, and the reopens."""
        created = self._created_in(principal, filters, start, end)
        key = getattr(created.c, KEY_COLUMNS[group_by].key) if group_by in KEY_COLUMNS else None
        figures: list[Any] = [func.count().label("tickets")]
        for metric in ("first_reply", "resolution"):
            calendar = getattr(created.c, f"{metric}_seconds")
            business = getattr(created.c, f"{metric}_business_seconds")
            figures += [
                func.count(calendar).label(f"{metric}_tickets"),
                _percentile(0.5, calendar).label(f"{metric}_median"),
                _percentile(0.9, calendar).label(f"{metric}_p90"),
                _percentile(0.5, business).label(f"{metric}_business_median"),
                _percentile(0.9, business).label(f"{metric}_business_p90"),
            ]
        known = created.c.next_reply_business_seconds.is_not(None)
        figures += [
            func.coalesce(func.sum(created.c.next_reply_count), 0).label("next_replies"),
            func.sum(created.c.next_reply_seconds).label("next_reply_seconds"),
            func.sum(created.c.next_reply_count).filter(known).label("next_replies_business"),
            func.sum(created.c.next_reply_business_seconds).label("next_reply_business_seconds"),
            func.coalesce(func.sum(created.c.reopens), 0).label("reopens"),
        ]
        if key is None:
            statement = select(literal_column("NULL").label("key"), *figures).select_from(created)
        else:
            statement = select(key.label("key"), *figures).group_by(key).order_by(key)
        return list((await self.tickets.session.execute(statement)).all())

    async def satisfaction(
        self, principal: Principal, filters: TicketFilters, start: datetime, end: datetime, group_by: str
    ) -> list[Row[Any]]:
        """Per key: the ratings first given in [start, end) to the tickets that match, good ones, and
        the scores."""
        tickets = self.tickets.filtered(principal, filters).subquery()
        key = getattr(tickets.c, KEY_COLUMNS[group_by].key) if group_by in KEY_COLUMNS else None
        figures = [
            func.count().label("ratings"),
            func.count().filter(TicketRating.good).label("good"),
            func.count(TicketRating.score).label("scored"),
            func.avg(TicketRating.score).label("average_score"),
        ]
        joined = (
            select(literal_column("NULL").label("key") if key is None else key.label("key"), *figures)
            .select_from(tickets)
            .join(
                TicketRating,
                and_(
                    TicketRating.workspace_id == tickets.c.workspace_id,
                    TicketRating.ticket_id == tickets.c.id,
                ),
            )
            .where(TicketRating.created_at >= start, TicketRating.created_at < end)
        )
        statement = joined if key is None else joined.group_by(key).order_by(key)
        return list((await self.tickets.session.execute(statement)).all())

    async def backlog(
        self, principal: Principal, filters: TicketFilters, start: datetime, end: datetime, now: datetime
    ) -> dict[str, int]:
        """Unresolved tickets created in [start, end), by the time since their creation."""
        unresolved = (
            self.tickets.filtered(principal, filters)
            .where(
                Ticket.status_kind.in_(UNRESOLVED_KINDS),
                Ticket.created_at >= start,
                Ticket.created_at < end,
            )
            .subquery()
        )
        age = func.extract("epoch", now - unresolved.c.created_at) / 86400
        bucket = case(
            *((age < days, label) for label, days in AGE_BUCKETS if days is not None),
            else_=AGE_BUCKETS[-1][0],
        )
        statement = select(bucket, func.count()).group_by(bucket)
        return dict((await self.tickets.session.execute(statement)).all())

    async def unresolved_now(self, principal: Principal, filters: TicketFilters) -> int:
        statement = select(func.count()).select_from(
            self.tickets.filtered(principal, filters)
            .where(Ticket.status_kind.in_(UNRESOLVED_KINDS))
            .subquery()
        )
        return int(await self.tickets.session.scalar(statement) or 0)

    async def per_local_day(
        self, principal: Principal, filters: TicketFilters, column: str, since: datetime, time_zone: str
    ) -> dict[Any, int]:
        """Tickets per local day of `column` (created_at, solved_at), from `since` on."""
        moment = getattr(Ticket, column)
        matching = self.tickets.filtered(principal, filters).where(moment >= since).subquery()
        day = _local_day(getattr(matching.c, column), time_zone)
        statement = select(day, func.count()).group_by(day)
        return dict((await self.tickets.session.execute(statement)).all())

    async def agents(
        self, principal: Principal, filters: TicketFilters, start: datetime, end: datetime
    ) -> tuple[dict[UUID | None, int], dict[UUID | None, int]]:
        """Per assignee: the unresolved tickets now, and the tickets solved in [start, end)."""
        open_assigned = (
            self.tickets.filtered(principal, filters)
            .where(Ticket.status_kind.in_(UNRESOLVED_KINDS))
            .subquery()
        )
        solved = (
            self.tickets.filtered(principal, filters)
            .where(Ticket.solved_at >= start, Ticket.solved_at < end)
            .subquery()
        )
        counted = []
        for matching in (open_assigned, solved):
            statement = select(matching.c.assignee_id, func.count()).group_by(matching.c.assignee_id)
            counted.append(dict((await self.tickets.session.execute(statement)).all()))
        return counted[0], counted[1]

    async def sla_figures(
        self, principal: Principal, filters: TicketFilters, start: datetime, end: datetime, group_by: str
    ) -> list[Row[Any]]:
        """Per key and metric: the tickets, met, breached, running, and the median and 90th percentile of
        the seconds counted until fulfilled; and per key, the tickets with any clock."""
        visible = self._created_in(principal, filters, start, end)
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
                _sla_percentile(0.5, fulfilled).label("median_seconds"),
                _sla_percentile(0.9, fulfilled).label("p90_seconds"),
            )
            .join(
                TicketSla,
                and_(TicketSla.workspace_id == visible.c.workspace_id, TicketSla.ticket_id == visible.c.id),
            )
            .group_by(func.grouping_sets(tuple_(key, TicketSla.metric), tuple_(key)))
            .order_by(key, TicketSla.metric)
        )
        return list((await self.tickets.session.execute(statement)).all())


def _percentile(fraction: float, column: Any) -> Any:
    return func.percentile_cont(literal_column(str(fraction))).within_group(column)


def _sla_percentile(fraction: float, which: Any) -> Any:
    return _percentile(fraction, TicketSla.elapsed_seconds).filter(which)


def _local_day(moment: Any, time_zone: str) -> Any:
    """The date of an instant in the time zone."""
    return cast(func.timezone(time_zone, moment), Date)
