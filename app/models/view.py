from typing import Any
from uuid import UUID

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, Versioned, WorkspaceScoped
from app.models.columns import pg_enum, scoped_fk
from app.models.enums import ViewVisibility


class TicketView(WorkspaceScoped, Timestamps, Versioned, Base):
    """A saved ticket list: the list's own query parameters, a sort and the columns to show."""

    __tablename__ = "ticket_views"
    __table_args__ = (
        # A personal view goes with its owner.
        scoped_fk("owner_id", "agents", ondelete="CASCADE"),
        Index("ix_ticket_views_workspace_id_position", "workspace_id", "position"),
        Index("ix_ticket_views_workspace_id_owner_id", "workspace_id", "owner_id"),
        Index(
            "uq_ticket_views_workspace_id_built_in",
            "workspace_id",
            "built_in",
            unique=True,
            postgresql_where=text("built_in IS NOT NULL"),
        ),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200))
    # The list's query parameters, name → value, as `GET /v1/tickets` takes them.
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    sort: Mapped[str] = mapped_column(String(20))
    columns: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default="{}")
    visibility: Mapped[ViewVisibility] = mapped_column(pg_enum(ViewVisibility, "view_visibility"))
    # The agent a personal view is for.
    owner_id: Mapped[UUID | None]
    # The groups whose members see a view shared with groups.
    group_ids: Mapped[list[UUID]] = mapped_column(ARRAY(Uuid()), server_default="{}")
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    # Which built-in view this is (`mine`, `unassigned`, …); built-in views are never deleted.
    built_in: Mapped[str | None] = mapped_column(String(40))
    hidden: Mapped[bool] = mapped_column(Boolean, server_default="false")
