from datetime import datetime
from uuid import UUID

from pydantic import Field

from app.kit.schemas import ResponseModel
from app.models import Notification
from app.models.enums import ActorType, NotificationKind


class NotificationActor(ResponseModel):
    type: ActorType
    id: UUID | None = Field(description="The agent's or API key's id; null for the system")


class NotificationOut(ResponseModel):
    """An entry of the calling agent's feed: a ticket change that concerns them."""

    id: UUID
    kind: NotificationKind = Field(
        description="Why: the most specific reason when a change had several (mentioned, assigned, "
        "sla_breached, sla_warning, customer_replied, category_opened, category_closed)"
    )
    ticket_id: UUID
    comment_id: UUID | None = Field(description="The note that mentioned the agent, or the customer's reply")
    actor: NotificationActor = Field(description="Who made the change")
    summary: str = Field(description="A line to show, in the workspace's language")
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, notification: Notification) -> "NotificationOut":
        return cls(
            id=notification.id,
            kind=notification.kind,
            ticket_id=notification.ticket_id,
            comment_id=notification.comment_id,
            actor=NotificationActor(type=notification.actor_type, id=notification.actor_id),
            summary=notification.summary,
            created_at=notification.created_at,
            read_at=notification.read_at,
        )


class UnreadCount(ResponseModel):
    unread: int


class ReadAll(ResponseModel):
    marked: int = Field(description="How many notifications were unread")
