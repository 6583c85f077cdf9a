from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints

from app.kit.schemas import Name, RequestModel, ResponseModel, UpdateModel
from app.models.enums import CustomFieldEntity, CustomFieldType

MAX_OPTIONS = 500

FieldKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
OptionValue = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Pattern = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Position = Annotated[int, Field(ge=0, le=10_000)]


class CustomFieldOption(RequestModel):
    value: OptionValue
    label: Name


def _distinct_values(options: list[CustomFieldOption]) -> list[CustomFieldOption]:
    seen: set[str] = set()
    for option in options:
        if option.value in seen:
            raise ValueError(f"option values must be unique: {option.value!r} appears more than once")
        seen.add(option.value)
    return options


Options = Annotated[list[CustomFieldOption], Field(max_length=MAX_OPTIONS), AfterValidator(_distinct_values)]


class CustomFieldCreate(RequestModel):
    entity: CustomFieldEntity
    key: FieldKey
    label: Name
    type: CustomFieldType
    options: Options = []
    pattern: Pattern | None = None
    required: bool = False
    active: bool = True
    position: Position = 0


class CustomFieldUpdate(UpdateModel):
    """The entity, key and type of a field are fixed: stored values depend on them."""

    label: Name = None
    options: Options = None
    pattern: Pattern = None
    required: bool = None
    active: bool = None
    position: Position = None


class CustomFieldOut(ResponseModel):
    id: UUID
    entity: CustomFieldEntity
    key: str
    label: str
    type: CustomFieldType
    options: list[CustomFieldOption]
    pattern: str | None
    required: bool
    active: bool
    position: int
    created_at: datetime
    updated_at: datetime
