from datetime import datetime
from typing import Annotated, Self
from uuid import UUID

from pydantic import Field

from app.kit.schemas import Name, RequestModel, ResponseModel, ShortText, UpdateModel
from app.models import Category

Position = Annotated[int, Field(ge=0, le=10_000)]


class CategoryCreate(RequestModel):
    name: Name
    description: ShortText | None = None
    parent_id: UUID | None = Field(default=None, description="The parent category; null for a top-level one")
    position: Position = 0
    active: bool = True


class CategoryUpdate(UpdateModel):
    name: Name = None
    description: ShortText | None = None
    parent_id: UUID | None = Field(
        default=None, description="Null makes the category top-level; never itself or a descendant"
    )
    position: Position = None
    active: bool = None


class CategoryOut(ResponseModel):
    id: UUID
    name: str
    description: str | None
    parent_id: UUID | None
    position: int
    active: bool
    watcher_ids: list[UUID] = Field(description="The agents who follow every ticket of it")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, category: Category, watcher_ids: list[UUID]) -> Self:
        columns = {name: getattr(category, name) for name in cls.model_fields if name != "watcher_ids"}
        return cls.model_validate({**columns, "watcher_ids": watcher_ids})
