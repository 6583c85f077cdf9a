from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from app.kit.schemas import RequestModel, ResponseModel, UpdateModel
from app.models.enums import DeliveryStatus
from app.outbox import EventType

Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Description = Annotated[str, StringConstraints(max_length=500)]
EventTypes = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=64)]],
    Field(min_length=1, max_length=50, description='Event types to receive, or ["*"] for all of them'),
]


def _known_types(types: list[str]) -> list[str]:
    known = set(EventType._value2member_map_) | {"*"}
    for name in types:
        if name not in known:
            raise ValueError(f"unknown event type {name!r}")
    return list(dict.fromkeys(types))


class WebhookCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://crm.example.vn/hooks/helpdesk",
                    "description": "CRM: phiếu mới và trả lời",
                    "event_types": ["ticket.created", "ticket.comment_added"],
                }
            ]
        }
    )
    url: Url = Field(description="https (http only where the service allows it); must reach a public address")
    description: Description | None = None
    event_types: EventTypes = ["*"]
    active: bool = True

    _types = field_validator("event_types")(_known_types)


class WebhookUpdate(UpdateModel):
    """Setting `active: true` re-enables an endpoint the service disabled."""

    url: Url = None
    description: Description | None = None
    event_types: EventTypes = None
    active: bool = None

    _types = field_validator("event_types")(_known_types)


class WebhookOut(ResponseModel):
    id: UUID
    url: str
    description: str | None
    event_types: list[str]
    active: bool
    disabled_reason: str | None = Field(description="Why the service disabled the endpoint, if it did")
    failing_since: datetime | None = Field(description="Start of the current run of failed deliveries")
    previous_secret_expires_at: datetime | None = Field(
        description="Until then the previous secret signs too (after a rotation)"
    )
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookOut):
    secret: str = Field(description="The signing secret (`whsec_…`). It is shown only in this response.")


class AttemptOut(ResponseModel):
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    response_body: str | None = Field(description="The first 2 KB of the response")
    error: str | None


class WebhookDeliveryOut(ResponseModel):
    id: UUID
    event_id: UUID
    event_type: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
    attempts: list[AttemptOut]
