from collections import Counter
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, Field

from app.kit.schemas import CustomFieldValues, Name, RequestModel, ResponseModel, ShortText, UpdateModel
from app.macros.schemas import (
    AddFollowerAction,
    AddTagsAction,
    RemoveTagsAction,
    SetAssigneeAction,
    SetGroupAction,
    SetPriorityAction,
    SetStatusAction,
    SetTypeAction,
)
from app.models.enums import AssignmentStrategy
from app.notifications.schemas import NotifyAction
from app.rules.conditions import Conditions, refuse_time_conditions
from app.webhooks.schemas import CallUrlAction

TriggerEvent = Literal[
    "ticket.created", "ticket.updated", "ticket.comment_added", "ticket.sla_warning", "ticket.sla_breached"
]
Position = Annotated[int, Field(ge=0, le=10_000)]


class SetCategoryAction(RequestModel):
    type: Literal["set_category"]
    category_id: UUID | None = Field(description="Null takes the ticket out of its category")


class SetCustomFieldsAction(RequestModel):
    type: Literal["set_custom_fields"]
    custom_fields: CustomFieldValues = Field(description="Keys to set; a null value removes the key")


class AssignByStrategyAction(RequestModel):
    type: Literal["assign_by_strategy"]
    strategy: AssignmentStrategy = Field(
        description="Choose an agent of the ticket's group this way (after any set_group of the trigger)"
    )


class AddCommentAction(RequestModel):
    type: Literal["add_comment"]
    macro_id: UUID = Field(description="The macro whose body, rendered for the ticket, is the comment")
    public: bool = Field(description="True: a public reply to the customer; false: an internal note")


TriggerAction = Annotated[
    SetStatusAction
    | SetPriorityAction
    | SetTypeAction
    | SetGroupAction
    | SetAssigneeAction
    | SetCategoryAction
    | SetCustomFieldsAction
    | AssignByStrategyAction
    | AddTagsAction
    | RemoveTagsAction
    | AddFollowerAction
    | AddCommentAction
    | NotifyAction
    | CallUrlAction,
    Field(discriminator="type"),
]
_ONCE = (
    "set_status",
    "set_priority",
    "set_type",
    "set_group",
    "set_assignee",
    "set_category",
    "assign_by_strategy",
)


def _consistent(actions: list[TriggerAction]) -> list[TriggerAction]:
    counts = Counter(action.type for action in actions)
    repeated = [kind for kind in _ONCE if counts[kind] > 1]
    if repeated:
        raise ValueError(f"{repeated[0]} can be given once")
    if counts["set_assignee"] and counts["assign_by_strategy"]:
        raise ValueError("give either set_assignee or assign_by_strategy, not both")
    return actions


Actions = Annotated[list[TriggerAction], Field(min_length=1, max_length=20), AfterValidator(_consistent)]
Events = Annotated[list[TriggerEvent], Field(min_length=1, max_length=5)]
ChangeConditions = Annotated[Conditions, AfterValidator(refuse_time_conditions)]

CONDITIONS = (
    "When the ticket (after the change) meets them; `changed`, `changed_to` and `changed_from` look at the "
    "change that fired the trigger, and at the changes of the triggers before it in the same pass"
)


class TriggerCreate(RequestModel):
    name: Name = Field(description="Unique in the workspace, case-insensitively")
    description: ShortText | None = None
    position: Position = Field(0, description="Triggers run by position, then name")
    active: bool = True
    events: Events = Field(description="The events that fire the trigger")
    conditions: ChangeConditions = Field(Conditions(), description=CONDITIONS)
    actions: Actions


class TriggerUpdate(UpdateModel):
    name: Name = None
    description: ShortText | None = None
    position: Position = None
    active: bool = None
    events: Events = None
    conditions: ChangeConditions = Field(None, description=CONDITIONS)
    actions: Actions = None


class TriggerOut(ResponseModel):
    id: UUID
    name: str
    description: str | None
    position: int
    active: bool
    events: list[str]
    conditions: Conditions
    actions: list[TriggerAction]
    created_at: datetime
    updated_at: datetime
