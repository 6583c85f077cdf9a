from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, WorkspaceScoped
from app.models.columns import pg_enum
from app.models.enums import ActorType


class Attachment(WorkspaceScoped, Base):
    """A file: uploaded first (unattached), then attached to a comment, and so to its ticket."""

    __tablename__ = "attachments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "ticket_id"], ["tickets.workspace_id", "tickets.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["workspace_id", "comment_id"], ["comments.workspace_id", "comments.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("workspace_id", "upload_token"),
        Index("ix_attachments_workspace_id_comment_id", "workspace_id", "comment_id"),
        Index("ix_attachments_workspace_id_ticket_id", "workspace_id", "ticket_id"),
        # What the purge of abandoned uploads scans, across workspaces.
        Index(
            "ix_attachments_unattached_created_at", "created_at", postgresql_where=text("attached_at IS NULL")
        ),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[UUID | None]
    comment_id: Mapped[UUID | None]
    # The client's name, cleaned; it is only ever shown, never used in a path.
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # Sniffed from the bytes; what the client declared is ignored.
    content_type: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(255))
    uploaded_by_type: Mapped[ActorType] = mapped_column(pg_enum(ActorType, "actor_type"))
    uploaded_by_id: Mapped[UUID]
    # Handed to the uploader to reference the upload from a comment.
    upload_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    attached_at: Mapped[datetime | None]
