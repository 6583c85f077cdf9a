from datetime import datetime

from app.auth.principal import Principal
from app.models.enums import SlaMetric
from app.reports.repository import ReportRepository
from app.reports.schemas import MetricFigures, SlaReport, SlaReportRow
from app.tickets.repository import TicketRepository


async def sla_report(
    tickets: TicketRepository, principal: Principal, start: datetime, end: datetime, group_by: str
) -> SlaReport:
    rows: dict[str | None, SlaReportRow] = {}
    for figures in await ReportRepository(tickets).sla_figures(principal, start, end, group_by):
        key = None if figures.key is None else str(getattr(figures.key, "value", figures.key))
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


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)
