"""The event catalogue as OpenAPI webhooks: what a subscriber receives, per event type."""

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from app.events.schemas import AgentEventData, ContactEventData, EventOut, TicketEventData
from app.notifications.schemas import NotificationOut
from app.outbox import EventType
from app.webhooks.schemas import WebhookOut

DataT = TypeVar("DataT")


class TicketEvent(EventOut):
    data: TicketEventData


class ContactEvent(EventOut):
    data: ContactEventData


class AgentEvent(EventOut):
    data: AgentEventData


class NotificationEventData(BaseModel):
    notification: NotificationOut


class NotificationEvent(EventOut):
    data: NotificationEventData


class WebhookEventData(BaseModel):
    webhook: WebhookOut
    reason: str | None = Field(None, description="Why the service disabled the endpoint (webhook.disabled)")


class WebhookEvent(EventOut):
    data: WebhookEventData


class Delivery(BaseModel, Generic[DataT]):
    """The body of a webhook request, signed per the Standard Webhooks specification."""

    type: str
    timestamp: datetime = Field(description="When the event occurred")
    data: DataT


DESCRIPTIONS = {
    EventType.ticket_created: "A ticket was opened.",
    EventType.ticket_updated: "Fields of a ticket changed; `data.changes` has each one, old and new.",
    EventType.ticket_status_changed: "A ticket moved to another status (also sent as ticket.updated).",
    EventType.ticket_assigned: "A ticket's assignee or group changed (also sent as ticket.updated).",
    EventType.ticket_deleted: "A ticket was deleted (it can be restored).",
    EventType.ticket_restored: "A deleted ticket was restored.",
    EventType.ticket_comment_added: "A public reply or an internal note was added (`data.comment`).",
    EventType.ticket_comment_delivery_failed: (
        "A public reply could not be sent on the ticket's channel (`data.comment.delivery.error` says why)."
    ),
    EventType.ticket_merged: "The ticket was merged into another (`data.into`); it is now closed.",
    EventType.agent_availability_changed: (
        "An agent went online, away or offline, or was deactivated or reactivated."
    ),
    EventType.ticket_sla_warning: (
        "An SLA metric of the ticket is close to its due time (`data.sla`); once per metric cycle."
    ),
    EventType.ticket_sla_breached: (
        "An SLA metric of the ticket passed its due time (`data.sla`); once per metric cycle."
    ),
    EventType.ticket_rated: (
        "The customer rated a solve of the ticket, or changed that rating (`data.rating`); the ticket "
        "carries its latest rating."
    ),
    EventType.contact_created: "A contact was created, through the API or as a ticket's requester.",
    EventType.contact_updated: "A contact's fields or identities changed.",
    EventType.webhook_test: "Sent by POST /v1/webhooks/{id}/test to that endpoint only.",
    EventType.webhook_disabled: "The service disabled an endpoint (410 Gone, or failing for days).",
    EventType.notification_created: (
        "An agent was notified (`data.notification`); the live stream and the change feed show it to that "
        "agent only, and an endpoint receives it only when it names it in `event_types` (not with `*`)."
    ),
}

# Standard Webhooks' headers: the same id on every attempt of a delivery (deduplicate with it), the
# attempt's time, and the signatures of `{id}.{timestamp}.{body}`.
SIGNATURE_HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "The delivery's id, the same on every attempt: process each id once",
        "schema": {"type": "string"},
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "When this attempt was signed, in Unix seconds: refuse ones far from now",
        "schema": {"type": "integer"},
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": "Space-separated `v1,<base64 HMAC-SHA256>` signatures of "
        "`{webhook-id}.{webhook-timestamp}.{body}` with the endpoint's secret (two while a rotated "
        "secret still signs)",
        "schema": {"type": "string"},
    },
]

webhooks = APIRouter(generate_unique_id_function=lambda route: route.name)


def _document(event_type: EventType, body: type[BaseModel]) -> None:
    def receive(delivery: Any) -> None:
        """Documentation only: the service sends this request; it serves no such route."""

    receive.__annotations__["delivery"] = body
    name = event_type.value.replace(".", "_")
    register: Callable[..., Any] = webhooks.post(
        event_type.value,
        name=name,
        summary=event_type.value,
        description=DESCRIPTIONS[event_type],
        response_class=Response,
        response_description="Any 2xx: delivered. Any other answer, or none in time, is tried again later",
        responses={410: {"description": "Gone: the service disables the endpoint"}},
        openapi_extra={"parameters": SIGNATURE_HEADERS},
    )
    register(receive)


_BODIES: dict[str, type[BaseModel]] = {
    "ticket": Delivery[TicketEvent],
    "contact": Delivery[ContactEvent],
    "agent": Delivery[AgentEvent],
    "webhook": Delivery[WebhookEvent],
    "notification": Delivery[NotificationEvent],
}
for _event_type in EventType:
    _document(_event_type, _BODIES[_event_type.value.split(".")[0]])
