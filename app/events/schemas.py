from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from app.agents.schemas import AgentOut
from app.comments.schemas import CommentOut
from app.contacts.schemas import ContactOut
from app.kit.schemas import ResponseModel
from app.models.enums import ActorType
from app.ratings.schemas import RatingOut
from app.tickets.schemas import SlaMetricOut, TicketMetricsOut, TicketOut


class Actor(ResponseModel):
    type: ActorType
    id: UUID | None = Field(description="The API key's or agent's id; null for the system")


class EventOut(ResponseModel):
    """An event as the change feed, the live stream and webhooks deliver it."""

    id: UUID = Field(description="Stable: the same on every delivery and retry; deduplicate on it")
    type: str
    occurred_at: datetime
    workspace_id: UUID
    actor: Actor
    data: dict[str, Any]


class EventPage(ResponseModel):
    items: list[EventOut]
    next_cursor: str | None = Field(
        description="Pass it as `after` to get the events that follow; it stays valid when no new "
        "event has arrived yet"
    )


class Change(BaseModel):
    old: Any
    new: Any


class TicketEventData(BaseModel):
    ticket: TicketOut
    changes: dict[str, Change] | None = Field(
        None, description="The fields that changed, old and new (ticket.updated, status_changed, assigned)"
    )
    comment: CommentOut | None = Field(None, description="The comment (ticket.comment_added)")
    into: TicketOut | None = Field(None, description="The ticket it was merged into (ticket.merged)")
    sla: SlaMetricOut | None = Field(
        None, description="The metric warned about or breached (ticket.sla_warning, ticket.sla_breached)"
    )
    rating: RatingOut | None = Field(None, description="The rating given or changed (ticket.rated)")
    metrics: TicketMetricsOut | None = Field(
        None,
        description="The ticket's metrics after the change (ticket.status_changed, and ticket.comment_added "
        "for a public comment)",
    )


class ContactEventData(BaseModel):
    contact: ContactOut
    changes: dict[str, Change] | None = None


class AgentEventData(BaseModel):
    agent: AgentOut
    changes: dict[str, Change] = Field(description="`availability` (and `active`), old and new")


class StreamToken(ResponseModel):
    token: str = Field(
        description="Opens `GET /v1/events/stream?token=…` (and nothing else) until it expires; keep it "
        "out of logs and storage"
    )
    expires_at: datetime = Field(description="After this, it opens no stream: ask for another")
