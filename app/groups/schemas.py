from datetime import datetime
from typing import Self
from uuid import UUID

from pydantic import Field

from app.kit.schemas import Name, RequestModel, ResponseModel, ShortText, UpdateModel
from app.models import Group
from app.models.enums import AssignmentStrategy

STRATEGY = (
    "How new tickets of the group find an agent: `manual` (they wait for someone to assign them), "
    "`round_robin` (in turn), `least_loaded` (fewest running tickets relative to capacity) or `skills` "
    "(agents with all the ticket's `required_skills`, then least loaded). Only active agents who are "
    "online (or away, with `assign_to_away`) and under capacity receive tickets."
)
ASSIGN_TO_AWAY = "Agents who are away receive tickets too"
REASSIGN_ON_OFFLINE = (
    "When an agent goes offline or is deactivated, their unresolved tickets of this group go back to it"
)


class GroupCreate(RequestModel):
    name: Name = Field(description="Unique in the workspace, case-insensitively")
    description: ShortText | None = None
    assignment_strategy: AssignmentStrategy = Field(AssignmentStrategy.manual, description=STRATEGY)
    assign_to_away: bool = Field(False, description=ASSIGN_TO_AWAY)
    reassign_on_offline: bool = Field(False, description=REASSIGN_ON_OFFLINE)


class GroupUpdate(UpdateModel):
    name: Name = None
    description: ShortText | None = None
    assignment_strategy: AssignmentStrategy = Field(None, description=STRATEGY)
    assign_to_away: bool = Field(None, description=ASSIGN_TO_AWAY)
    reassign_on_offline: bool = Field(None, description=REASSIGN_ON_OFFLINE)


class GroupOut(ResponseModel):
    id: UUID
    name: str
    description: str | None
    assignment_strategy: AssignmentStrategy
    assign_to_away: bool
    reassign_on_offline: bool
    member_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, group: Group, member_count: int) -> Self:
        columns = {name: getattr(group, name) for name in cls.model_fields if name != "member_count"}
        return cls.model_validate({**columns, "member_count": member_count})
