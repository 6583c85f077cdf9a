from datetime import datetime
from typing import Annotated, get_args
from uuid import UUID

from pydantic import Field, StringConstraints

from app.kit.schemas import Name, RequestModel, ResponseModel, UpdateModel
from app.models.enums import ViewVisibility
from app.tickets.filters import TicketSort
from app.tickets.schemas import SINGLE_TICKET_FIELDS, TicketOut
from app.workspaces.built_in_views import DEFAULT_COLUMNS

# The fields of a ticket a view may show as columns: those every list item carries.
COLUMN_NAMES = tuple(name for name in TicketOut.model_fields if name not in SINGLE_TICKET_FIELDS)
SORTS = get_args(TicketSort)

FilterName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
FilterValue = Annotated[str, StringConstraints(max_length=1_000)]
ViewFilters = Annotated[
    dict[FilterName, FilterValue],
    Field(
        max_length=40,
        description="The list's query parameters, name → value, exactly as `GET /v1/tickets` takes them "
        '(several values comma-separated), e.g. `{"assignee": "me", "status_kind": "new,open", '
        '"cf.amount[gte]": "100000"}`. `me` and `group=mine` name whoever opens the view.',
    ),
]
Columns = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=64)]],
    Field(max_length=40, description=f"Ticket fields to show, in order: {', '.join(COLUMN_NAMES)}"),
]
GroupIds = Annotated[list[UUID], Field(max_length=50, description="With `visibility=groups`: who sees it")]
Position = Annotated[int, Field(ge=0, le=1_000_000, description="Views are listed by position")]
VISIBILITY = (
    "`personal`: only its owner (the agent who made it); `groups`: the members of `group_ids`; "
    "`everyone`: every agent. Shared views are made and changed by admins."
)


class ViewCreate(RequestModel):
    name: Name
    filters: ViewFilters = {}
    sort: TicketSort = "-created_at"
    columns: Columns = Field(default_factory=lambda: list(DEFAULT_COLUMNS))
    visibility: ViewVisibility = Field(ViewVisibility.personal, description=VISIBILITY)
    group_ids: GroupIds = []
    position: Position | None = Field(None, description="Views are listed by position; default: last")


class ViewUpdate(UpdateModel):
    """A built-in view takes only `position` and `hidden`."""

    name: Name = None
    filters: ViewFilters = None
    sort: TicketSort = None
    columns: Columns = None
    visibility: ViewVisibility = Field(None, description=VISIBILITY)
    group_ids: GroupIds = None
    position: Position = None
    hidden: bool = Field(None, description="Left out of `GET /v1/views` unless `include_hidden`")


class ViewOut(ResponseModel):
    id: UUID
    name: str
    filters: dict[str, str]
    sort: str
    columns: list[str]
    visibility: ViewVisibility
    owner_id: UUID | None = Field(description="The agent a personal view belongs to")
    group_ids: list[UUID]
    position: int
    built_in: str | None = Field(
        description="For a built-in view, which one: mine, unassigned, my_groups, all_open, recently_solved, "
        "sla_breached. Built-in views can be reordered and hidden, not deleted."
    )
    hidden: bool
    created_at: datetime
    updated_at: datetime
    version: int


class ViewCount(ResponseModel):
    view_id: UUID
    count: int | None = Field(description="Null when the view cannot be run for the caller (see `error`)")
    error: str | None = Field(
        None, description="Why the view could not be counted, e.g. a custom field it filters on was removed"
    )


class ViewCounts(ResponseModel):
    items: list[ViewCount]
