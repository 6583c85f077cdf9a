from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, WorkspaceScoped
from app.models.columns import pg_enum
from app.models.enums import ActorType


class Event(WorkspaceScoped, Base):
    """Something that happened to a resource, written in the transaction that made it happen."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_workspace_id_transaction_id_id", "workspace_id", "transaction_id", "id"),
        Index("ix_events_occurred_at", "occurred_at"),
        # The fan-out to webhooks walks every workspace's events in the same order.
        Index("ix_events_transaction_id_id", "transaction_id", "id"),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    actor_type: Mapped[ActorType] = mapped_column(pg_enum(ActorType, "actor_type"))
    actor_id: Mapped[UUID | None]
    subject_id: Mapped[UUID]
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The id of the writing transaction (xid8). The change feed only serves events of transactions
    # older than every transaction still running, so it never passes over an event that commits late.
    transaction_id: Mapped[int] = mapped_column(
        BigInteger, server_default=text("(pg_current_xact_id()::text)::bigint")
    )
