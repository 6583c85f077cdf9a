from uuid import UUID

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, Versioned, WorkspaceScoped
from app.models.columns import pg_enum
from app.models.enums import StatusKind


class TicketStatus(WorkspaceScoped, Timestamps, Versioned, Base):
    """A step of the workspace's workflow; its kind (fixed at creation) is what the rules look at."""

    __tablename__ = "ticket_statuses"
    __table_args__ = (
        Index("uq_ticket_statuses_workspace_id_name", "workspace_id", text("lower(name)"), unique=True),
        Index(
            "uq_ticket_statuses_workspace_id_kind_default",
            "workspace_id",
            "kind",
            unique=True,
            postgresql_where=text("is_default"),
        ),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[StatusKind] = mapped_column(pg_enum(StatusKind, "status_kind"))
    color: Mapped[str] = mapped_column(String(7), server_default="#9e9e9e")
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    # Whether the SLA clocks stop while a ticket has this status; fixed at creation, like the kind.
    pauses_sla: Mapped[bool] = mapped_column(Boolean, server_default="false")
    is_default: Mapped[bool] = mapped_column(Boolean, server_default="false")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
