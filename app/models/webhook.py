from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, Versioned, WorkspaceScoped
from app.models.columns import pg_enum
from app.models.enums import ActorType, DeliveryStatus


class Webhook(WorkspaceScoped, Timestamps, Versioned, Base):
    """An endpoint that receives the workspace's events, signed per Standard Webhooks."""

    __tablename__ = "webhooks"

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(500))
    # Event types, or ["*"] for all of them.
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # After a rotation both secrets sign, until the previous one expires.
    previous_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None]
    # When the current run of failed deliveries began; cleared by any success.
    failing_since: Mapped[datetime | None]


class WebhookDelivery(WorkspaceScoped, Base):
    """One request to deliver to one endpoint, attempted until it succeeds or the schedule ends: an event,
    or a body of its own that a rule's call_url action rendered for a ticket."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "webhook_id"], ["webhooks.workspace_id", "webhooks.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["workspace_id", "event_id"], ["events.workspace_id", "events.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("workspace_id", "webhook_id", "event_id"),
        CheckConstraint("(event_id IS NULL) <> (body IS NULL)", name="event_or_body"),
        # What workers claim: due deliveries, across workspaces, oldest first.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_deliveries_workspace_id_webhook_id_id", "workspace_id", "webhook_id", "id"),
        # The retention purge of the deliveries that carry their own body (events' go with their event).
        Index("ix_webhook_deliveries_created_at", "created_at", postgresql_where=text("event_id IS NULL")),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    webhook_id: Mapped[UUID]
    # The event delivered; null when the delivery carries its own body.
    event_id: Mapped[UUID | None]
    # A call_url request: the JSON body as rendered and signed, the ticket it was rendered for, and the
    # rule (actor) whose action made it. Its `webhook-id` is the delivery's id.
    body: Mapped[str | None] = mapped_column(Text)
    ticket_id: Mapped[UUID | None]
    actor_type: Mapped[ActorType | None] = mapped_column(pg_enum(ActorType, "actor_type"))
    actor_id: Mapped[UUID | None]
    status: Mapped[DeliveryStatus] = mapped_column(
        pg_enum(DeliveryStatus, "delivery_status"), server_default=DeliveryStatus.pending.value
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    # A worker holds a claimed delivery until then; if it dies, another takes the delivery over.
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    completed_at: Mapped[datetime | None]


class WebhookAttempt(WorkspaceScoped, Base):
    """One HTTP request of a delivery, as the delivery log shows it."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "delivery_id"],
            ["webhook_deliveries.workspace_id", "webhook_deliveries.id"],
            ondelete="CASCADE",
        ),
        Index("ix_webhook_attempts_workspace_id_delivery_id", "workspace_id", "delivery_id"),
        Index("ix_webhook_attempts_attempted_at", "attempted_at"),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    delivery_id: Mapped[UUID]
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(1000))


class DispatchCursor(Base):
    """How far the fan-out of events to webhooks has gone: one row, taken by one worker at a time."""

    __tablename__ = "dispatch_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(BigInteger, server_default="0")
    event_id: Mapped[UUID | None]
