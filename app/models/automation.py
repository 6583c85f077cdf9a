from typing import Any
from uuid import UUID

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, Versioned, WorkspaceScoped


class Automation(WorkspaceScoped, Timestamps, Versioned, Base):
    """A rule over time: once a ticket has met the conditions for the hours they name, apply the actions."""

    __tablename__ = "automations"
    __table_args__ = (
        Index("uq_automations_workspace_id_name", "workspace_id", text("lower(name)"), unique=True),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # As validated by app/automations/schemas.py (conditions with at least one time condition; actions
    # as triggers have them).
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")


class AutomationRescan(Base):
    """A workspace whose open tickets must have their next automation time worked out again, because its
    automations changed: workers go through its tickets in order of id, a batch at a time."""

    __tablename__ = "automation_rescans"

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    # The last ticket rescanned; null: from the start.
    after_ticket_id: Mapped[UUID | None]
