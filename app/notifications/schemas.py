from datetime import datetime
from typing import Literal, Self
from uuid import UUID

from pydantic import Field, model_validator

from app.kit.schemas import RequestModel, ResponseModel
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
        "sla_breached, sla_warning, customer_replied, category_opened, category_closed, rule: a rule's "
        "`notify` action, whose text is the summary)"
    )
    ticket_id: UUID
    comment_id: UUID | None = Field(
        description="The note that mentioned the agent, the customer's reply, or (`rule`) the comment whose "
        "change fired the rule"
    )
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


NotifyTarget = Literal["assignee", "group", "followers", "category_watchers", "requester"]
NotifyMedium = Literal["feed", "email"]


class NotifyAction(RequestModel):
    """Tell people of the ticket, with a macro's text: agents in their feed and/or by email, the requester
    by email only."""

    type: Literal["notify"]
    to: list[NotifyTarget] = Field(
        [],
        max_length=5,
        description="`assignee`; `group`: the members of the ticket's group; `followers`; "
        "`category_watchers`: the watchers of the ticket's category and of every category above it; "
        "`requester`: the customer, by email, never for an internal note",
    )
    agent_ids: list[UUID] = Field([], max_length=50, description="Named agents")
    via: list[NotifyMedium] = Field(
        min_length=1, max_length=2, description="`feed`: the agents' notification feed; `email`"
    )
    macro_id: UUID = Field(description="The macro whose body, rendered for the ticket, is the text")

    @model_validator(mode="after")
    def _someone_reachable(self) -> Self:
        if not self.to and not self.agent_ids:
            raise ValueError("name someone to notify: to or agent_ids")
        if any(len(set(items)) < len(items) for items in (self.to, self.agent_ids, self.via)):
            raise ValueError("to, agent_ids and via name each of theirs once")
        if "requester" in self.to and "email" not in self.via:
            raise ValueError("the requester is notified by email only: add email to via")
        return self
