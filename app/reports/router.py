from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.auth.principal import Principal
from app.errors import BadRequest
from app.kit.schemas import AwareDatetime
from app.kit.time import utcnow
from app.reports.schemas import (
    AgentsReport,
    BacklogReport,
    BacklogTrendReport,
    ReportGroupBy,
    SatisfactionReport,
    SlaReport,
    TimesGroupBy,
    TimesReport,
    TimesRow,
    VolumeGroupBy,
    VolumeReport,
)
from app.reports.service import ReportService
from app.reports.tables import CSV_RESPONSE, csv_response, wants_csv
from app.rules.snapshot import rules_of
from app.sla.schemas import DEFAULT_TIME_ZONE, TimeZone
from app.tickets.filters import Filters
from app.tickets.repository import TicketRepository

router = APIRouter(prefix="/v1/reports", tags=["Reports"], route_class=UnitOfWorkRoute)

MAX_SPAN = timedelta(days=366)
# Before any ticket: the backlog counts every unresolved ticket unless told otherwise.
_EVER = datetime(1, 1, 1, tzinfo=UTC)

From = Annotated[
    AwareDatetime | None, Query(alias="from", description="Tickets created from (default: 30 days ago)")
]
To = Annotated[AwareDatetime | None, Query(alias="to", description="… until, excluded (default: now)")]
TimeZoneParameter = Annotated[
    TimeZone | None,
    Query(
        description="IANA time zone of the days (default: that of the workspace's first business "
        "calendar, else Asia/Ho_Chi_Minh)"
    ),
]


def _period(
    start: datetime | None, end: datetime | None, *, bounded: bool = True
) -> tuple[datetime, datetime]:
    end = end or utcnow()
    start = start or end - timedelta(days=30)
    if start >= end:
        raise BadRequest("from must be before to", field="from", code="invalid_filter")
    if bounded and end - start > MAX_SPAN:
        raise BadRequest("a report covers at most 366 days", field="to", code="invalid_filter")
    return start, end


async def _zone(session: AsyncSession, principal: Principal, name: str | None) -> ZoneInfo:
    if name is not None:
        return ZoneInfo(name)
    calendar = (await rules_of(session, principal.workspace_id)).default_calendar
    return calendar.zone if calendar is not None else ZoneInfo(DEFAULT_TIME_ZONE)


def _service(session: Session, principal: Viewer, filters: Filters) -> ReportService:
    return ReportService(TicketRepository(session, principal.workspace_id), principal, filters)


Reports = Annotated[ReportService, Depends(_service)]


def _table(
    request: Request, name: str, header: Sequence[str], rows: Sequence[Sequence[Any]]
) -> Response | None:
    return csv_response(name, header, rows) if wants_csv(request) else None


@router.get("/sla", response_model=SlaReport, response_model_by_alias=True, responses=CSV_RESPONSE)
async def get_sla_report(
    request: Request,
    reports: Reports,
    start: From = None,
    end: To = None,
    group_by: ReportGroupBy = "priority",
) -> Any:
    """For the tickets created in the period that match the ticket list's filters, per priority, group,
    agent (assignee) or category: how many met, breached or are still running each SLA metric, and the
    median and 90th percentile of the time counted until it was fulfilled (business minutes for
    business-hours targets). A restricted agent counts only the tickets they may see."""
    report = await reports.sla(*_period(start, end), group_by)
    rows = [
        [row.key, metric.value, row.tickets, f.met, f.breached, f.running, f.median_minutes, f.p90_minutes]
        for row in report.rows
        for metric, f in row.metrics.items()
    ]
    header = ["key", "metric", "tickets", "met", "breached", "running", "median_minutes", "p90_minutes"]
    return _table(request, "sla", header, rows) or report


@router.get("/volume", response_model=VolumeReport, response_model_by_alias=True, responses=CSV_RESPONSE)
async def get_volume_report(
    request: Request,
    session: Session,
    principal: Viewer,
    reports: Reports,
    start: From = None,
    end: To = None,
    group_by: VolumeGroupBy = "day",
    time_zone: TimeZoneParameter = None,
) -> Any:
    """Tickets created in the period, per day (in the time zone; every day of the period, empty ones
    too), channel, category, priority or group."""
    zone = await _zone(session, principal, time_zone)
    report = await reports.volume(*_period(start, end), group_by, zone)
    rows = [[row.key, row.name, row.tickets] for row in report.rows]
    return _table(request, "volume", ["key", "name", "tickets"], rows) or report


@router.get("/times", response_model=TimesReport, response_model_by_alias=True, responses=CSV_RESPONSE)
async def get_times_report(
    request: Request,
    reports: Reports,
    start: From = None,
    end: To = None,
    group_by: TimesGroupBy = "none",
) -> Any:
    """For every ticket created in the period, with an SLA policy or without: the median and 90th
    percentile of the first reply time and of the full resolution time (creation to last solve), in
    calendar and business minutes; the average of the later reply times; the reopens. Per priority,
    group, agent (assignee), category or channel, or all together."""
    report = await reports.times(*_period(start, end), group_by)
    rows = [_times_cells(row) for row in report.rows]
    header = [
        "key", "name", "tickets",
        "first_reply_tickets", "first_reply_median_minutes", "first_reply_p90_minutes",
        "first_reply_median_business_minutes", "first_reply_p90_business_minutes",
        "next_replies", "next_reply_average_minutes", "next_reply_average_business_minutes",
        "resolved_tickets", "resolution_median_minutes", "resolution_p90_minutes",
        "resolution_median_business_minutes", "resolution_p90_business_minutes",
        "reopens",
    ]  # fmt: skip
    return _table(request, "times", header, rows) or report


def _times_cells(row: TimesRow) -> list[Any]:
    first, resolution, later = row.first_reply, row.full_resolution, row.next_reply
    return [
        row.key, row.name, row.tickets,
        first.tickets, first.median_minutes, first.p90_minutes,
        first.median_business_minutes, first.p90_business_minutes,
        later.replies, later.average_minutes, later.average_business_minutes,
        resolution.tickets, resolution.median_minutes, resolution.p90_minutes,
        resolution.median_business_minutes, resolution.p90_business_minutes,
        row.reopens,
    ]  # fmt: skip


@router.get("/backlog", response_model=BacklogReport, response_model_by_alias=True, responses=CSV_RESPONSE)
async def get_backlog_report(
    request: Request,
    reports: Reports,
    start: Annotated[
        AwareDatetime | None, Query(alias="from", description="Tickets created from (default: any time)")
    ] = None,
    end: To = None,
) -> Any:
    """The unresolved tickets now, by the time since their creation: under a day, 1-3, 3-7, 7-30 and
    over 30 days."""
    now = utcnow()
    report = await reports.backlog(*_period(start or _EVER, end or now, bounded=False), now)
    rows = [[bucket.age, bucket.tickets] for bucket in report.buckets]
    return _table(request, "backlog", ["age", "tickets"], rows) or report


@router.get(
    "/backlog/trend", response_model=BacklogTrendReport, response_model_by_alias=True, responses=CSV_RESPONSE
)
async def get_backlog_trend_report(
    request: Request,
    session: Session,
    principal: Viewer,
    reports: Reports,
    start: Annotated[
        AwareDatetime | None, Query(alias="from", description="From (default: 30 days ago)")
    ] = None,
    end: To = None,
    time_zone: TimeZoneParameter = None,
) -> Any:
    """The unresolved tickets at the end of each day of the period (in the time zone; today: now), worked
    out from the tickets' creation and their last solve: a ticket solved, reopened and solved again
    counts as unresolved from its creation to its last solve."""
    zone = await _zone(session, principal, time_zone)
    report = await reports.backlog_trend(*_period(start, end), zone, utcnow())
    rows = [[day.day, day.unresolved] for day in report.days]
    return _table(request, "backlog-trend", ["day", "unresolved"], rows) or report


@router.get(
    "/satisfaction", response_model=SatisfactionReport, response_model_by_alias=True, responses=CSV_RESPONSE
)
async def get_satisfaction_report(
    request: Request,
    reports: Reports,
    start: Annotated[
        AwareDatetime | None, Query(alias="from", description="Ratings given from (default: 30 days ago)")
    ] = None,
    end: To = None,
    group_by: TimesGroupBy = "none",
) -> Any:
    """Customer satisfaction: the ratings customers gave in the period (one per solve, as it stands now)
    to the tickets that match the ticket list's filters, how many good and bad, CSAT (the share of good
    ones) and the average score, per priority, group, agent (assignee), category or channel, or all
    together."""
    report = await reports.satisfaction(*_period(start, end), group_by)
    rows = [
        [row.key, row.name, row.ratings, row.good, row.bad, row.csat_percent, row.scored, row.average_score]
        for row in report.rows
    ]
    header = ["key", "name", "ratings", "good", "bad", "csat_percent", "scored", "average_score"]
    return _table(request, "satisfaction", header, rows) or report


@router.get("/agents", response_model=AgentsReport, response_model_by_alias=True, responses=CSV_RESPONSE)
async def get_agents_report(
    request: Request,
    reports: Reports,
    start: Annotated[
        AwareDatetime | None, Query(alias="from", description="Solved from (default: 30 days ago)")
    ] = None,
    end: To = None,
) -> Any:
    """Per agent: the unresolved tickets assigned to them now (workload), and the tickets they solved in
    the period (throughput; the ticket's assignee now, solved at its last solve)."""
    report = await reports.agents(*_period(start, end))
    rows = [[row.agent_id, row.name, row.open_assigned, row.solved] for row in report.rows]
    return _table(request, "agents", ["agent_id", "name", "open_assigned", "solved"], rows) or report
