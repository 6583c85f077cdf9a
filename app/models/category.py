from uuid import UUID

from sqlalchemy import Boolean, ForeignKey, ForeignKeyConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, Versioned, WorkspaceScoped


class Category(WorkspaceScoped, Timestamps, Versioned, Base):
    """A support category (danh mục hỗ trợ); categories form a tree through `parent_id`."""

    __tablename__ = "categories"
    __table_args__ = (
        ForeignKeyConstraint(["workspace_id", "parent_id"], ["categories.workspace_id", "categories.id"]),
        Index("ix_categories_workspace_id_parent_id", "workspace_id", "parent_id"),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    parent_id: Mapped[UUID | None]
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # Folded name, for accent-insensitive `q` searches.
    search_text: Mapped[str] = mapped_column(Text, server_default="")


class CategoryWatcher(Base):
    """An agent (người liên quan) who follows every ticket of a category."""

    __tablename__ = "category_watchers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "category_id"], ["categories.workspace_id", "categories.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["workspace_id", "agent_id"], ["agents.workspace_id", "agents.id"], ondelete="CASCADE"
        ),
        Index("ix_category_watchers_workspace_id_agent_id", "workspace_id", "agent_id"),
    )

    workspace_id: Mapped[UUID] = mapped_column(primary_key=True)
    category_id: Mapped[UUID] = mapped_column(primary_key=True)
    agent_id: Mapped[UUID] = mapped_column(primary_key=True)
