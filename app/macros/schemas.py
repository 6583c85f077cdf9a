from collections import Counter
from datetime import datetime
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from app.kit.schemas import Name, RequestModel, ResponseModel, ShortText, Tag, UpdateModel
from app.macros.rendering import MAX_TEMPLATE_CHARS, PLACEHOLDERS
from app.models.enums import Priority, StatusKind, TicketType
from app.tickets.schemas import TicketOut

Position = Annotated[int, Field(ge=0, le=10_000)]
# A ticket change takes at most this many tags to add and to remove.
MAX_TAGS = 50
Tags = Annotated[list[Tag], Field(min_length=1, max_length=MAX_TAGS)]
_PLACEHOLDER_LIST = ", ".join(
    f"{{{{ {section}.{key} }}}}" for section, keys in PLACEHOLDERS.items() for key in keys
)
Template = Annotated[
    str,
    StringConstraints(max_length=MAX_TEMPLATE_CHARS),
    Field(
        description="The comment: a Jinja2 template rendered in a sandbox, with the placeholders "
        f"{_PLACEHOLDER_LIST}. A value the ticket lacks renders empty; an unknown placeholder, a syntax "
        "error or a construct the sandbox refuses is a 422 on `body`. Empty: the macro only changes fields."
    ),
]


class SetStatusAction(RequestModel):
    type: Literal["set_status"]
    status_id: UUID | None = Field(None, description="A status of the workspace")
    status_kind: StatusKind | None = Field(None, description="Shortcut: the default status of this kind")

    @model_validator(mode="after")
    def _one_status(self) -> Self:
        if (self.status_id is None) == (self.status_kind is None):
            raise ValueError("give either status_id or status_kind")
        return self


class SetPriorityAction(RequestModel):
    type: Literal["set_priority"]
    priority: Priority


class SetTypeAction(RequestModel):
    type: Literal["set_type"]
    ticket_type: TicketType | None = Field(description="Null clears the ticket's type")


class SetGroupAction(RequestModel):
    type: Literal["set_group"]
    group_id: UUID | None = Field(description="Null takes the ticket out of its group")


class SetAssigneeAction(RequestModel):
    type: Literal["set_assignee"]
    assignee_id: UUID | None = Field(description="Null unassigns the ticket")


class AddTagsAction(RequestModel):
    type: Literal["add_tags"]
    tags: Tags


class RemoveTagsAction(RequestModel):
    type: Literal["remove_tags"]
    tags: Tags


class AddFollowerAction(RequestModel):
    type: Literal["add_follower"]
    agent_id: UUID


MacroAction = Annotated[
    SetStatusAction
    | SetPriorityAction
    | SetTypeAction
    | SetGroupAction
    | SetAssigneeAction
    | AddTagsAction
    | RemoveTagsAction
    | AddFollowerAction,
    Field(discriminator="type"),
]
SINGLE_ACTIONS = ("set_status", "set_priority", "set_type", "set_group", "set_assignee")


def _tags_of(actions: list[MacroAction], kind: type[AddTagsAction | RemoveTagsAction]) -> list[str]:
    return [tag.lower() for action in actions if isinstance(action, kind) for tag in action.tags]


def _consistent(actions: list[MacroAction]) -> list[MacroAction]:
    counts = Counter(action.type for action in actions)
    repeated = [kind for kind in SINGLE_ACTIONS if counts[kind] > 1]
    if repeated:
        raise ValueError(f"{repeated[0]} can be given once")
    added = _tags_of(actions, AddTagsAction)
    removed = _tags_of(actions, RemoveTagsAction)
    if max(len(added), len(removed)) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags can be added and {MAX_TAGS} removed")
    both = sorted(set(added) & set(removed))
    if both:
        raise ValueError(f"the tag {both[0]!r} is both added and removed")
    return actions


Actions = Annotated[list[MacroAction], Field(max_length=20), AfterValidator(_consistent)]


class MacroCreate(RequestModel):
    name: Name
    description: ShortText | None = None
    body: Template = ""
    public: bool = Field(True, description="True: a public reply the customer sees. False: an internal note")
    group_id: UUID | None = Field(None, description="Only agents of this group may use the macro")
    actions: Actions = Field([], description="Ticket changes applied with the comment")
    active: bool = True
    position: Position = 0


class MacroUpdate(UpdateModel):
    name: Name = None
    description: ShortText | None = None
    body: Template = None
    public: bool = None
    group_id: UUID | None = None
    actions: Actions = None
    active: bool = None
    position: Position = None


class MacroOut(ResponseModel):
    id: UUID
    name: str
    description: str | None
    body: str
    public: bool
    group_id: UUID | None
    actions: list[MacroAction]
    active: bool
    position: int
    created_at: datetime
    updated_at: datetime


class MacroPreview(ResponseModel):
    body: str = Field(description="The comment as it would be added; empty when the macro adds none")
    public: bool
    actions: list[MacroAction] = Field(description="The changes the macro would apply to the ticket")


class MacroApplied(ResponseModel):
    comment_id: UUID | None = Field(description="The comment added; null when the macro has no body")
    ticket: TicketOut
