from collections import Counter
from datetime import date, datetime
from functools import cache
from typing import Annotated, Literal, Self
from uuid import UUID
from zoneinfo import available_timezones

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from app.calendars.compiled import WEEKDAYS
from app.kit.schemas import FullDate, Name, RequestModel, ResponseModel, ShortText, UpdateModel
from app.models.enums import Priority, SlaMetric
from app.rules.conditions import Conditions, refuse_event_conditions, refuse_time_conditions

StateConditions = Annotated[
    Conditions, AfterValidator(refuse_event_conditions), AfterValidator(refuse_time_conditions)
]

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
assert Weekday.__args__ == WEEKDAYS  # type: ignore[attr-defined]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]
DEFAULT_TIME_ZONE = "Asia/Ho_Chi_Minh"


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _known_zone(name: str) -> str:
    if name not in _zones():
        raise ValueError(f"{name!r} is not an IANA time zone, e.g. Asia/Ho_Chi_Minh")
    return name


TimeZone = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_known_zone),
    Field(description="An IANA time zone", examples=[DEFAULT_TIME_ZONE]),
]


class WorkingHours(RequestModel):
    """Working time on a weekday, in local wall-clock time. An `end` not after the `start` is on the next
    day (a night shift "22:00"-"06:00" belongs to the day it starts on); a whole day is "00:00"-"24:00"."""

    day: Weekday
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _lasts(self) -> Self:
        if self.start == "24:00":
            raise ValueError("start: a day's hours start before 24:00")
        if self.start == self.end:
            raise ValueError("start and end are equal: write a whole day as 00:00-24:00")
        return self


class Holiday(RequestModel):
    """A day off, or several (`end`, included); Tết and other lunar holidays are entered for each year."""

    start: FullDate
    end: FullDate | None = None
    name: Annotated[str, StringConstraints(max_length=200)] | None = None

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        if self.end is not None and self.end < self.start:
            raise ValueError("end is before start")
        if self.end is not None and (self.end - self.start).days > 366:
            raise ValueError("a holiday lasts at most a year")
        return self


Hours = Annotated[list[WorkingHours], Field(min_length=1, max_length=100)]
Holidays = Annotated[list[Holiday], Field(max_length=1000)]


class CalendarCreate(RequestModel):
    name: Name = Field(description="Unique in the workspace, case-insensitively")
    time_zone: TimeZone = DEFAULT_TIME_ZONE
    hours: Hours = Field(
        description="Several intervals a day are split shifts, e.g. 08:00-12:00 and 13:30-17:30"
    )
    holidays: Holidays = []


class CalendarUpdate(UpdateModel):
    """Changing the hours or the holidays moves the due times of running clocks that count in them."""

    name: Name = None
    time_zone: TimeZone = None
    hours: Hours = None
    holidays: Holidays = Field(None, description="Replaces the list")


class HolidayOut(ResponseModel):
    start: date
    end: date | None
    name: str | None


class WorkingHoursOut(ResponseModel):
    day: str
    start: str
    end: str


class CalendarOut(ResponseModel):
    id: UUID
    name: str
    time_zone: str
    hours: list[WorkingHoursOut]
    holidays: list[HolidayOut]
    created_at: datetime
    updated_at: datetime


class SlaTarget(RequestModel):
    priority: Priority
    metric: SlaMetric = Field(
        description="`first_response`: the first public reply by an agent; `next_response`: a public reply "
        "to each customer message that follows an agent's reply; `resolution`: reaching solved"
    )
    minutes: Annotated[int, Field(ge=1, le=525_600)]
    business_hours: bool = Field(
        True, description="Counted in the policy calendar's working hours; false: in calendar time"
    )


Percent = Annotated[int, Field(ge=1, le=99)]
Minutes = Annotated[int, Field(ge=1, le=525_600)]
Targets = Annotated[list[SlaTarget], Field(min_length=1, max_length=12)]
Position = Annotated[int, Field(ge=0, le=10_000)]


def check_targets(targets: list[SlaTarget] | None, calendar_id: UUID | None) -> None:
    if targets is None:
        return
    repeated = [key for key, count in Counter((t.priority, t.metric) for t in targets).items() if count > 1]
    if repeated:
        priority, metric = repeated[0]
        raise ValueError(f"targets: {priority.value} {metric.value} is given twice")
    if calendar_id is None and any(target.business_hours for target in targets):
        raise ValueError("targets in business hours need a calendar_id")


class SlaPolicyCreate(RequestModel):
    name: Name = Field(description="Unique in the workspace, case-insensitively")
    description: ShortText | None = None
    position: Position = Field(
        0, description="Policies are tried by position; the first that matches applies"
    )
    active: bool = True
    conditions: StateConditions = Field(
        Conditions(), description="Which tickets the policy is for; no conditions: every ticket"
    )
    calendar_id: UUID | None = Field(None, description="The business calendar the targets count in")
    targets: Targets
    warn_at_percent: Percent | None = Field(
        None, description="Warn when this share of a target has elapsed (80 when no lead is given)"
    )
    warn_minutes_before: Minutes | None = Field(None, description="Or warn this many minutes before due")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.warn_at_percent is not None and self.warn_minutes_before is not None:
            raise ValueError("give either warn_at_percent or warn_minutes_before, not both")
        if self.warn_at_percent is None and self.warn_minutes_before is None:
            self.warn_at_percent = 80
        check_targets(self.targets, self.calendar_id)
        return self


class SlaPolicyUpdate(UpdateModel):
    """Tickets keep the targets they were given until a field the policies look at changes."""

    name: Name = None
    description: ShortText | None = None
    position: Position = None
    active: bool = None
    conditions: StateConditions = None
    calendar_id: UUID | None = None
    targets: Targets = None
    warn_at_percent: Percent | None = None
    warn_minutes_before: Minutes | None = None


class SlaPolicyOut(ResponseModel):
    id: UUID
    name: str
    description: str | None
    position: int
    active: bool
    conditions: Conditions
    calendar_id: UUID | None
    targets: list[SlaTarget]
    warn_at_percent: int | None
    warn_minutes_before: int | None
    created_at: datetime
    updated_at: datetime
