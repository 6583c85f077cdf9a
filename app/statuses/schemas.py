from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints

from app.kit.schemas import RequestModel, ResponseModel, UpdateModel
from app.models.enums import StatusKind

StatusName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
Position = Annotated[int, Field(ge=0, le=10_000)]


class StatusCreate(RequestModel):
    name: StatusName
    kind: StatusKind
    color: Color = "#9e9e9e"
    position: Position = 0
    pauses_sla: bool | None = Field(
        None,
        description="Whether the SLA clocks stop while a ticket has this status; by default they do for "
        "the kinds pending and on_hold. Fixed at creation, like the kind",
    )
    is_default: bool = False


class StatusUpdate(UpdateModel):
    """The kind of a status and whether it pauses the SLA are fixed: tickets and rules rely on them."""

    name: StatusName = None
    color: Color = None
    position: Position = None
    is_default: bool = None
    active: bool = None


class StatusOut(ResponseModel):
    id: UUID
    name: str
    kind: StatusKind
    color: str
    position: int
    pauses_sla: bool
    is_default: bool
    active: bool
    created_at: datetime
    updated_at: datetime
