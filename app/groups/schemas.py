from datetime import datetime
from typing import Self
from uuid import UUID

from pydantic import Field

from app.kit.schemas import Name, RequestModel, ResponseModel, ShortText, UpdateModel
from app.models import Group


class GroupCreate(RequestModel):
    name: Name = Field(description="Unique in the workspace, case-insensitively")
    description: ShortText | None = None


class GroupUpdate(UpdateModel):
    name: Name = None
    description: ShortText | None = None


class GroupOut(ResponseModel):
    id: UUID
    name: str
    description: str | None
    member_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, group: Group, member_count: int) -> Self:
        columns = {name: getattr(group, name) for name in cls.model_fields if name != "member_count"}
        return cls.model_validate({**columns, "member_count": member_count})
