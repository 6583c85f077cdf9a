from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, WorkspaceScoped
from app.models.columns import pg_enum, scoped_fk
from app.models.enums import ActorType, NotificationKind


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
