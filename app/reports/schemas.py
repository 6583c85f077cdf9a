from datetime import datetime
from typing import Literal

from pydantic import Field

from app.kit.schemas import ResponseModel
from app.models.enums import SlaMetric

ReportGroupBy = Literal["priority", "group", "agent", "category"]


class MetricFigures(ResponseModel):
    met: int = Field(description="Tickets whose metric was fulfilled in time, every cycle")
    breached: int = Field(description="Tickets whose metric went past its due time at least once")
    running: int = Field(description="Tickets whose metric is still counting (or paused), not breached")
    median_minutes: float | None = Field(
        description="Of the fulfilled ones: minutes counted until fulfilled, in the target's time (business "
        "minutes for business-hours targets; for next response, the latest cycle)"
    )
    p90_minutes: float | None = Field(description="The 90th percentile of the same")


class SlaReportRow(ResponseModel):
    key: str | None = Field(description="The priority, or the id of the group, agent or category; null: none")
    tickets: int = Field(description="Tickets with SLA clocks")
    metrics: dict[SlaMetric, MetricFigures]


class SlaReport(ResponseModel):
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    group_by: ReportGroupBy
    rows: list[SlaReportRow]
