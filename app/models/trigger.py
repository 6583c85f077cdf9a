from typing import Any
from uuid import UUID

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, Versioned, WorkspaceScoped


class Trigger(WorkspaceScoped, Timestamps, Versioned, Base):
    """A routing rule: when an event happens to a ticket that meets the conditions, apply the actions."""

    __tablename__ = "triggers"
    __table_args__ = (
        Index("uq_triggers_workspace_id_name", "workspace_id", text("lower(name)"), unique=True),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # Event types, e.g. ["ticket.created"].
    events: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    # As validated by app/rules/conditions.py (`Conditions`) and app/triggers/schemas.py (`TriggerAction`).
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
