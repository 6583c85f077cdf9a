from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field

from app.kit.schemas import Name, ResponseModel, UpdateModel
from app.models.enums import Locale

RateLimit = Annotated[
    int,
    Field(
        ge=1,
        le=1_000_000,
        description="Requests a minute the workspace's credentials may make together, in each API "
        "process; null: the service's default (HELPDESK_RATE_LIMIT_WORKSPACE_PER_MINUTE)",
    ),
]

WorkspaceLocale = Annotated[
    Locale,
    Field(
        description="The language of the texts the service writes itself (sub-ticket notes, call "
        "summaries, subjects of messages without text): `vi` (default) or `en`"
    ),
]

BrandColor = Annotated[
    str,
    Field(
        pattern=r"^#[0-9a-fA-F]{6}$",
        examples=["#1d4ed8"],
        description="The colour of the customer pages' header and buttons, `#rrggbb` (default `#1d4ed8`); "
        "their text on it is black or white, whichever contrasts more",
    ),
    AfterValidator(str.lower),
]


class WorkspaceOut(ResponseModel):
    id: UUID
    name: str
    rate_limit_per_minute: RateLimit | None
    locale: WorkspaceLocale
    brand_color: BrandColor
    created_at: datetime
    updated_at: datetime


class WorkspaceUpdate(UpdateModel):
    name: Name = None
    rate_limit_per_minute: RateLimit | None = None
    locale: WorkspaceLocale = None
    brand_color: BrandColor = None
