from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field

from app.kit.schemas import Name, RequestModel, ResponseModel, ShortText, UpdateModel
from app.rules.conditions import TIME_FIELDS, Conditions, Operator, refuse_event_conditions
from app.triggers.schemas import Actions, Position, TriggerAction


def _timed(conditions: Conditions) -> Conditions:
    """An automation waits for time: at least one `at_least` condition on the time since something,
    and time conditions only among those that must all hold (the moment it acts is then known)."""
    for condition in conditions.any:
        if condition.field in TIME_FIELDS:
            raise ValueError(f"{condition.field}: time conditions go in `all`, not `any`")
        if condition.field == "business_hours":
            raise ValueError("business_hours: count business hours with a time condition's calendar_id")
    for condition in conditions.all:
        if condition.field == "business_hours":
            raise ValueError("business_hours: count business hours with a time condition's calendar_id")
    if not any(
        condition.field in TIME_FIELDS and condition.operator is Operator.at_least
        for condition in conditions.all
    ):
        raise ValueError(
            "an automation needs, in `all`, an `at_least` condition on one of " + ", ".join(TIME_FIELDS)
        )
    return conditions


TimedConditions = Annotated[Conditions, AfterValidator(refuse_event_conditions), AfterValidator(_timed)]

CONDITIONS = (
    "What the ticket must meet, at the time the automation looks: the time since a moment of the ticket "
    "(`hours_since_*`, in calendar hours or a calendar's business hours) with the ticket conditions "
    "triggers have, except those on changes and events"
)


class AutomationCreate(RequestModel):
    name: Name = Field(description="Unique in the workspace, case-insensitively")
    description: ShortText | None = None
    position: Position = Field(0, description="Automations run by position, then name")
    active: bool = True
    conditions: TimedConditions = Field(description=CONDITIONS)
    actions: Actions


class AutomationUpdate(UpdateModel):
    name: Name = None
    description: ShortText | None = None
    position: Position = None
    active: bool = None
    conditions: TimedConditions = Field(None, description=CONDITIONS)
    actions: Actions = None


class AutomationOut(ResponseModel):
    id: UUID
    name: str
    description: str | None
    position: int
    active: bool
    conditions: Conditions
    actions: list[TriggerAction]
    created_at: datetime
    updated_at: datetime
