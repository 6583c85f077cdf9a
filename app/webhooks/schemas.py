import json
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, Field, JsonValue, StringConstraints, field_validator

from app.kit.schemas import RequestModel, ResponseModel, UpdateModel
from app.macros.rendering import MAX_JSON_BYTES, MAX_TEMPLATE_CHARS
from app.models.enums import ActorType, DeliveryStatus
from app.outbox import EventType

Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Description = Annotated[str, StringConstraints(max_length=500)]
MAX_BODY_DEPTH = 16
EventTypes = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=64)]],
    Field(
        max_length=50,
        description='Event types to receive, or ["*"] for all of them; [] for none (an endpoint that only '
        "rules call, with call_url actions)",
    ),
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


class CallOut(ResponseModel):
    actor_type: ActorType = Field(description="What kind of rule made the request (a trigger)")
    actor_id: UUID = Field(description="The rule whose call_url action made the request")
    ticket_id: UUID = Field(description="The ticket the body was rendered for")
    body: str = Field(description="The JSON body, as rendered and signed")


class WebhookDeliveryOut(ResponseModel):
    id: UUID
    message_id: str = Field(
        description="The `webhook-id` header of every attempt: the event's id, or the delivery's own for a "
        "call_url request"
    )
    event_id: UUID | None = Field(description="The event delivered; null for a call_url request")
    event_type: str | None = Field(description="The event's type; null for a call_url request")
    call: CallOut | None = Field(description="A rule's call_url request; null for an event")
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
    attempts: list[AttemptOut]


def _bounded_template(template: JsonValue) -> JsonValue:
    if _depth(template) > MAX_BODY_DEPTH:
        raise ValueError(f"the JSON is nested more than {MAX_BODY_DEPTH} levels deep")
    if len(json.dumps(template, ensure_ascii=False)) > MAX_TEMPLATE_CHARS:
        raise ValueError(f"the JSON is longer than {MAX_TEMPLATE_CHARS} characters")
    return template


def _depth(value: JsonValue) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    return 0


BodyTemplate = Annotated[JsonValue, AfterValidator(_bounded_template)]


class CallUrlAction(RequestModel):
    """Send a signed request to one of the workspace's webhook endpoints, its JSON body rendered for the
    ticket: delivered after the change commits, retried, logged and redelivered as events are."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "call_url",
                    "webhook_id": "0193a1f2-7c4e-7d2a-9b1e-5f3c2a1b0d9e",
                    "body": {
                        "text": "Phiếu #{{ ticket.number }}: {{ ticket.subject }}",
                        "customer": {
                            "name": "{{ requester.name or 'khách' }}",
                            "email": "{{ requester.email }}",
                        },
                        "urgent": True,
                    },
                }
            ]
        }
    )
    type: Literal["call_url"]
    webhook_id: UUID = Field(
        description="The endpoint called: its URL, and its secret that signs the request"
    )
    body: BodyTemplate = Field(
        description="Any JSON value; each string in it is a macro template rendered for the ticket (keys, "
        "numbers, booleans and nulls are sent as they are), so the body is always valid JSON. Besides a "
        "macro's placeholders, `comment.id`, `comment.body`, `comment.public` and `comment.author` read the "
        "comment the change added (empty when it added none). At most "
        f"{MAX_TEMPLATE_CHARS} characters and {MAX_BODY_DEPTH} levels; rendered, at most "
        f"{MAX_JSON_BYTES} bytes"
    )
