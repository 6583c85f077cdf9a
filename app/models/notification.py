from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, WorkspaceScoped
from app.models.columns import pg_enum, scoped_fk
from app.models.enums import ActorType, NotificationEmailState, NotificationKind


class Notification(WorkspaceScoped, Base):
    """An entry of an agent's feed: a ticket change that concerns them, at most one per change."""

    __tablename__ = "notifications"
    __table_args__ = (
        scoped_fk("agent_id", "agents", ondelete="CASCADE"),
        scoped_fk("ticket_id", "tickets", ondelete="CASCADE"),
        # An agent's feed, newest first; and their unread ones, which stay few.
        Index("ix_notifications_workspace_id_agent_id_created_at", "workspace_id", "agent_id", "created_at"),
        Index(
            "ix_notifications_unread",
            "workspace_id",
            "agent_id",
            "created_at",
            postgresql_where=text("read_at IS NULL"),
        ),
        # Retention walks every workspace's oldest rows.
        Index("ix_notifications_created_at", "created_at"),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[UUID]
    kind: Mapped[NotificationKind] = mapped_column(pg_enum(NotificationKind, "notification_kind"))
    ticket_id: Mapped[UUID]
    comment_id: Mapped[UUID | None]
    actor_type: Mapped[ActorType] = mapped_column(pg_enum(ActorType, "actor_type"))
    actor_id: Mapped[UUID | None]
    summary: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class NotificationEmail(WorkspaceScoped, Base):
    """A notification by email, queued in the change's transaction and sent by a worker through the
    workspace's notification channel: sent at most once (a worker stopped mid-send fails it rather than
    sending it again)."""

    __tablename__ = "notification_emails"
    __table_args__ = (
        scoped_fk("ticket_id", "tickets", ondelete="CASCADE"),
        scoped_fk("channel_id", "channels", ondelete="CASCADE"),
        # Queued ones are claimed by when they are due; they stay few.
        Index("ix_notification_emails_due", "next_attempt_at", postgresql_where=text("state = 'queued'")),
        # Those a worker took and never finished with.
        Index("ix_notification_emails_sending", "leased_until", postgresql_where=text("state = 'sending'")),
        Index("ix_notification_emails_workspace_id_ticket_id", "workspace_id", "ticket_id"),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[UUID]
    channel_id: Mapped[UUID]
    # Who it is for: an agent's id, or the requester's (a contact); the address as it was when queued.
    recipient_type: Mapped[str] = mapped_column(String(16))
    recipient_id: Mapped[UUID]
    to_address: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(1000))
    body: Mapped[str] = mapped_column(Text)
    # Made when queued, so that the mail has one identity whatever happens to it.
    message_id: Mapped[str] = mapped_column(String(500))
    actor_type: Mapped[ActorType] = mapped_column(pg_enum(ActorType, "actor_type"))
    actor_id: Mapped[UUID | None]
    state: Mapped[NotificationEmailState] = mapped_column(
        pg_enum(NotificationEmailState, "notification_email_state"), server_default="queued"
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Set while a worker sends it: past it, that worker stopped without saying how it went.
    leased_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None]
