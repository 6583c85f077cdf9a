from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.errors import BadRequest
from app.kit.schemas import AwareDatetime
from app.kit.time import utcnow
from app.reports.schemas import ReportGroupBy, SlaReport
from app.reports.service import sla_report
from app.tickets.repository import TicketRepository

router = APIRouter(prefix="/v1/reports", tags=["Reports"], route_class=UnitOfWorkRoute)

MAX_SPAN = timedelta(days=366)


@router.get("/sla", response_model=SlaReport, response_model_by_alias=True)
async def get_sla_report(
    session: Session,
    principal: Viewer,
    start: Annotated[
        AwareDatetime | None, Query(alias="from", description="Tickets created from (default: 30 days ago)")
    ] = None,
    end: Annotated[
        AwareDatetime | None, Query(alias="to", description="… until, excluded (default: now)")
    ] = None,
    group_by: ReportGroupBy = "priority",
) -> SlaReport:
    """For the tickets created in the period, per priority, group, agent (assignee) or category: how many
    met, breached or are still running each SLA metric, and the median and 90th percentile of the time
    counted until it was fulfilled (business minutes for business-hours targets). A restricted agent
    counts only the tickets they may see."""
    end = end or utcnow()
    start = start or end - timedelta(days=30)
    if start >= end:
        raise BadRequest("from must be before to", field="from", code="invalid_filter")
    if end - start > MAX_SPAN:
        raise BadRequest("a report covers at most 366 days", field="to", code="invalid_filter")
    return await sla_report(
        TicketRepository(session, principal.workspace_id), principal, start, end, group_by
    )
