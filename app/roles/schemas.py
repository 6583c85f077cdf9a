from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints

from app.kit.schemas import RequestModel, ResponseModel, ShortText, UpdateModel
from app.models.enums import Permission

RoleName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


def _each_once(permissions: list[Permission]) -> list[Permission]:
    return sorted(set(permissions))


Permissions = Annotated[list[Permission], Field(max_length=len(Permission)), AfterValidator(_each_once)]


class RoleCreate(RequestModel):
    name: RoleName
    description: ShortText | None = None
    permissions: Permissions = Field(description="What the role's agents may do (see GET /v1/roles/presets)")


class RoleUpdate(UpdateModel):
    name: RoleName = None
    description: ShortText | None = None
    permissions: Permissions = None


class RoleOut(ResponseModel):
    id: UUID
    name: str
    description: str | None
    permissions: list[Permission]
    created_at: datetime
    updated_at: datetime


class Presets(ResponseModel):
    """The permissions of the built-in roles, which agents without a custom role have."""

    viewer: list[Permission]
    agent: list[Permission]
    admin: list[Permission]
