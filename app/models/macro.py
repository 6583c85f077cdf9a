from typing import Any
from uuid import UUID

from sqlalchemy import Boolean, ForeignKey, ForeignKeyConstraint, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, Versioned, WorkspaceScoped


class Macro(WorkspaceScoped, Timestamps, Versioned, Base):
    """A canned response (mẫu trả lời nhanh): a reply template and ticket changes applied together."""

    __tablename__ = "macros"
    __table_args__ = (
        Index("uq_macros_workspace_id_name", "workspace_id", text("lower(name)"), unique=True),
        # A group that macros are limited to cannot be deleted while they are.
        ForeignKeyConstraint(["workspace_id", "group_id"], ["groups.workspace_id", "groups.id"]),
        Index("ix_macros_workspace_id_group_id", "workspace_id", "group_id"),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    # A Jinja2 template rendered in a sandbox (app/macros/rendering.py); empty: the macro only changes fields.
    body: Mapped[str] = mapped_column(Text, server_default="")
    # True: the comment is a public reply; False: an internal note.
    public: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # Set: only agents of this group may use the macro.
    group_id: Mapped[UUID | None]
    # The ticket changes, as validated by app/macros/schemas.py (`MacroAction`).
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    # Folded name and description, for accent-insensitive `q` searches.
    search_text: Mapped[str] = mapped_column(Text, server_default="")
