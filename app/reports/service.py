from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.auth.principal import Principal
from app.models.enums import SlaMetric
from app.reports.repository import AGE_BUCKETS, ReportRepository
from app.reports.schemas import (
    AgentRow,
    AgentsReport,
    Average,
    BacklogBucket,
    BacklogDay,
    BacklogReport,
    BacklogTrendReport,
    MetricFigures,
    Percentiles,
    SatisfactionReport,
    SatisfactionRow,
    SlaReport,
    SlaReportRow,
    TimesReport,
    TimesRow,
    VolumeReport,
    VolumeRow,
)
from app.tickets.filters import TicketFilters
from app.tickets.repository import TicketRepository


class ReportService:
    """Reports over the tickets the caller may see that match the ticket list's filters."""

    def __init__(self, tickets: TicketRepository, principal: Principal, filters: TicketFilters) -> None:
        self.repo = ReportRepository(tickets)
        self.principal = principal
        self.filters = filters

    async def sla(self, start: datetime, end: datetime, group_by: str) -> SlaReport:
        rows: dict[str | None, SlaReportRow] = {}
        for figures in await self.repo.sla_figures(self.principal, self.filters, start, end, group_by):
            key = _key(figures.key)
            row = rows.setdefault(key, SlaReportRow(key=key, tickets=0, metrics={}))
            if figures.all_metrics:
                row.tickets = figures.tickets
                continue
            row.metrics[SlaMetric(figures.metric)] = MetricFigures(
                met=figures.met,
                breached=figures.breached,
                running=figures.running,
                median_minutes=_minutes(figures.median_seconds),
                p90_minutes=_minutes(figures.p90_seconds),
            )
        return SlaReport.model_validate(
            {"from": start, "to": end, "group_by": group_by, "rows": list(rows.values())}
        )

    async def volume(self, start: datetime, end: datetime, group_by: str, zone: ZoneInfo) -> VolumeReport:
        counted = await self.repo.volume(self.principal, self.filters, start, end, group_by, zone.key)
        names = await self.repo.names(group_by, [row.key for row in counted])
        rows = [VolumeRow(key=_key(row.key), name=names.get(row.key), tickets=row.tickets) for row in counted]
        if group_by == "day":
            # Every day of the period, those without tickets too.
            by_day = {row.key: row.tickets for row in rows}
            rows = [
                VolumeRow(key=day.isoformat(), name=None, tickets=by_day.get(day.isoformat(), 0))
                for day in _days(start, end, zone)
            ]
        return VolumeReport.model_validate(
            {"from": start, "to": end, "group_by": group_by, "time_zone": zone.key, "rows": rows}
        )

    async def times(self, start: datetime, end: datetime, group_by: str) -> TimesReport:
        counted = await self.repo.times(self.principal, self.filters, start, end, group_by)
        names = await self.repo.names(group_by, [row.key for row in counted])
        rows = [
            TimesRow(
                key=_key(row.key),
                name=names.get(row.key),
                tickets=row.tickets,
                first_reply=_percentiles(row, "first_reply"),
                next_reply=Average(
                    replies=row.next_replies,
                    average_minutes=_average(row.next_reply_seconds, row.next_replies),
                    average_business_minutes=_average(
                        row.next_reply_business_seconds, row.next_replies_business
                    ),
                ),
                full_resolution=_percentiles(row, "resolution"),
                reopens=row.reopens,
            )
            for row in counted
            if row.tickets
        ]
        return TimesReport.model_validate({"from": start, "to": end, "group_by": group_by, "rows": rows})

    async def backlog(self, start: datetime, end: datetime, now: datetime) -> BacklogReport:
        counted = await self.repo.backlog(self.principal, self.filters, start, end, now)
        buckets = [BacklogBucket(age=label, tickets=counted.get(label, 0)) for label, _ in AGE_BUCKETS]
        return BacklogReport.model_validate({"from": start, "to": end, "as_of": now, "buckets": buckets})

    async def backlog_trend(
        self, start: datetime, end: datetime, zone: ZoneInfo, now: datetime
    ) -> BacklogTrendReport:
        """Unresolved at a moment = unresolved now - created since + solved since (by the last time each
        ticket was solved): read from the tickets' times, three indexed counts, no history."""
        days = [day for day in _days(start, end, zone) if _start_of(day, zone) <= now]
        trend: list[BacklogDay] = []
        if days:
            since = min(_start_of(days[0] + timedelta(days=1), zone), now)
            unresolved = await self.repo.unresolved_now(self.principal, self.filters)
            created = await self.repo.per_local_day(
                self.principal, self.filters, "created_at", since, zone.key
            )
            solved = await self.repo.per_local_day(self.principal, self.filters, "solved_at", since, zone.key)
            for day in days:
                later = sum(count for other, count in solved.items() if other > day) - sum(
                    count for other, count in created.items() if other > day
                )
                trend.append(BacklogDay(day=day.isoformat(), unresolved=unresolved + later))
        return BacklogTrendReport.model_validate(
            {"from": start, "to": end, "time_zone": zone.key, "days": trend}
        )

    async def satisfaction(self, start: datetime, end: datetime, group_by: str) -> SatisfactionReport:
        counted = await self.repo.satisfaction(self.principal, self.filters, start, end, group_by)
        names = await self.repo.names(group_by, [row.key for row in counted])
        rows = [
            SatisfactionRow(
                key=_key(row.key),
                name=names.get(row.key),
                ratings=row.ratings,
                good=row.good,
                bad=row.ratings - row.good,
                csat_percent=round(100 * row.good / row.ratings, 1) if row.ratings else None,
                scored=row.scored,
                average_score=round(float(row.average_score), 2) if row.average_score is not None else None,
            )
            for row in counted
        ]
        period = {"from": start, "to": end}
        return SatisfactionReport.model_validate({**period, "group_by": group_by, "rows": rows})

    async def agents(self, start: datetime, end: datetime) -> AgentsReport:
        open_assigned, solved = await self.repo.agents(self.principal, self.filters, start, end)
        agent_ids = sorted({*open_assigned, *solved}, key=lambda agent_id: (agent_id is None, str(agent_id)))
        names = await self.repo.names("agent", agent_ids)
        rows = [
            AgentRow(
                agent_id=_key(agent_id),
                name=names.get(agent_id),  # type: ignore[arg-type]
                open_assigned=open_assigned.get(agent_id, 0),
                solved=solved.get(agent_id, 0),
            )
            for agent_id in agent_ids
        ]
        return AgentsReport.model_validate({"from": start, "to": end, "rows": rows})


def _key(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(getattr(value, "value", value))


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _average(seconds: float | None, count: int | None) -> float | None:
    return None if seconds is None or not count else round(seconds / count / 60, 1)


def _percentiles(row: Any, metric: str) -> Percentiles:
    return Percentiles(
        tickets=getattr(row, f"{metric}_tickets"),
        median_minutes=_minutes(getattr(row, f"{metric}_median")),
        p90_minutes=_minutes(getattr(row, f"{metric}_p90")),
        median_business_minutes=_minutes(getattr(row, f"{metric}_business_median")),
        p90_business_minutes=_minutes(getattr(row, f"{metric}_business_p90")),
    )


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone)


def _days(start: datetime, end: datetime, zone: ZoneInfo) -> list[date]:
    """The local days the period [start, end) touches."""
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
