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

NotificationChannel = Annotated[
    UUID,
    Field(
        description="The email channel whose SMTP server sends the notification emails of rules (the "
        "`notify` action); null: none is sent, and the ticket's history says they were skipped"
    ),
]


InboundRetention = Annotated[
    int,
    Field(
        ge=1,
        le=36_500,
        description="Days the raw inbound messages of channels are kept (the stored mail, the provider's "
        "event), counted from their arrival; null: kept",
    ),
]
ClosedTicketAnonymization = Annotated[
    int,
    Field(
        ge=1,
        le=1200,
        description="Months after its closing when a closed ticket is anonymised (its texts, files and "
        "stored messages erased; it stays counted in reports); null: never",
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
    notification_channel_id: NotificationChannel | None
    inbound_retention_days: InboundRetention | None
    closed_ticket_anonymize_months: ClosedTicketAnonymization | None
    brand_color: BrandColor
    created_at: datetime
    updated_at: datetime


class WorkspaceUpdate(UpdateModel):
    name: Name = None
    rate_limit_per_minute: RateLimit | None = None
    locale: WorkspaceLocale = None
    notification_channel_id: NotificationChannel | None = None
    inbound_retention_days: InboundRetention | None = None
    closed_ticket_anonymize_months: ClosedTicketAnonymization | None = None
    brand_color: BrandColor = None
