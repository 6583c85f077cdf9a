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


VolumeGroupBy = Literal["day", "channel", "category", "priority", "group"]
TimesGroupBy = Literal["none", "priority", "group", "agent", "category", "channel"]


class ReportPeriod(ResponseModel):
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime


class VolumeRow(ResponseModel):
    key: str | None = Field(
        description="The day (YYYY-MM-DD, in the report's time zone), channel or priority, or the id of "
        "the category or group; null: none"
    )
    name: str | None = Field(description="The category's or group's name")
    tickets: int = Field(description="Tickets created")


class VolumeReport(ReportPeriod):
    group_by: VolumeGroupBy
    time_zone: str
    rows: list[VolumeRow]


class Percentiles(ResponseModel):
    tickets: int = Field(description="Tickets with the time")
    median_minutes: float | None
    p90_minutes: float | None
    median_business_minutes: float | None = Field(
        description="Of the tickets whose time is known in business time (a calendar counts it)"
    )
    p90_business_minutes: float | None


class Average(ResponseModel):
    replies: int = Field(description="Reply times counted")
    average_minutes: float | None
    average_business_minutes: float | None


class TimesRow(ResponseModel):
    key: str | None = Field(description="The priority or channel, or the id of the group, agent or category")
    name: str | None = Field(description="The group's, agent's or category's name")
    tickets: int = Field(description="Tickets created in the period")
    first_reply: Percentiles
    next_reply: Average
    full_resolution: Percentiles = Field(description="Creation to the last solve, of the solved tickets")
    reopens: int = Field(description="Reopenings of these tickets, in all")


class TimesReport(ReportPeriod):
    group_by: TimesGroupBy
    rows: list[TimesRow]


class BacklogBucket(ResponseModel):
    age: Literal["under_1_day", "days_1_to_3", "days_3_to_7", "days_7_to_30", "over_30_days"] = Field(
        description="The time since the tickets' creation"
    )
    tickets: int


class BacklogReport(ReportPeriod):
    as_of: datetime = Field(description="Unresolved tickets now, by the time since their creation")
    buckets: list[BacklogBucket]


class BacklogDay(ResponseModel):
    day: str = Field(description="YYYY-MM-DD in the report's time zone")
    unresolved: int = Field(description="Tickets unresolved at the day's end (today: now)")


class BacklogTrendReport(ReportPeriod):
    time_zone: str
    days: list[BacklogDay]


class SatisfactionRow(ResponseModel):
    key: str | None = Field(description="The priority or channel, or the id of the group, agent or category")
    name: str | None = Field(description="The group's, agent's or category's name")
    ratings: int = Field(description="Solves rated in the period")
    good: int = Field(description="Rated good: a score of 4 or 5, or good itself")
    bad: int
    csat_percent: float | None = Field(description="Good ratings out of all, in percent (CSAT); null: none")
    scored: int = Field(description="Ratings given as a score of 1 to 5")
    average_score: float | None = Field(description="The average of those scores")


class SatisfactionReport(ReportPeriod):
    group_by: TimesGroupBy
    rows: list[SatisfactionRow]


class AgentRow(ResponseModel):
    agent_id: str | None = Field(description="null: the tickets assigned to nobody")
    name: str | None
    open_assigned: int = Field(description="Unresolved tickets assigned to the agent now")
    solved: int = Field(description="Tickets the agent (as their assignee now) solved in the period")


class AgentsReport(ReportPeriod):
    rows: list[AgentRow]
