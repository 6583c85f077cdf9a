from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, WorkspaceScoped
from app.models.columns import pg_enum
from app.models.enums import Channel, CommentAuthor, DeliveryState, LinkKind, PresenceState

# A call record's comment of a call nobody answered; the index's predicate, and the filter's, word for word.
MISSED_CALL = "(call ->> 'answered') = 'false'"


class Comment(WorkspaceScoped, Base):
    """A public reply (the customer sees it) or an internal note (staff only) on a ticket."""

    __tablename__ = "comments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "ticket_id"], ["tickets.workspace_id", "tickets.id"], ondelete="CASCADE"
        ),
        Index("ix_comments_workspace_id_ticket_id_id", "workspace_id", "ticket_id", "id"),
        # The tickets with a missed call (`has_missed_call`): a few comments of all.
        Index("ix_comments_missed_calls", "workspace_id", "ticket_id", postgresql_where=text(MISSED_CALL)),
        Index(
            "ix_comments_search_text",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[UUID]
    author_type: Mapped[CommentAuthor] = mapped_column(pg_enum(CommentAuthor, "comment_author"))
    author_id: Mapped[UUID | None]
    public: Mapped[bool] = mapped_column(Boolean)
    body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[Channel | None] = mapped_column(pg_enum(Channel, "channel"))
    provider_message_id: Mapped[str | None] = mapped_column(String(500))
    # Where the comment was written, when a merge moved it to another ticket.
    original_ticket_id: Mapped[UUID | None]
    # For a message that arrived on a channel: which rule put it on this ticket, and why.
    threading: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # For a call record: the call as data (app/comments/schemas.py `CallRecord`).
    call: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # For a public reply sent out on the ticket's channel.
    delivery_state: Mapped[DeliveryState | None] = mapped_column(pg_enum(DeliveryState, "delivery_state"))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # The body folded (app/kit/search.py `search_key`), written with the comment, for `q` and /v1/search.
    search_text: Mapped[str] = mapped_column(Text, server_default="")


class TicketLink(WorkspaceScoped, Base):
    """`ticket_id` is `kind` of `linked_ticket_id` (related, a duplicate of, a follow-up of)."""

    __tablename__ = "ticket_links"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "ticket_id"], ["tickets.workspace_id", "tickets.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["workspace_id", "linked_ticket_id"], ["tickets.workspace_id", "tickets.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("workspace_id", "ticket_id", "linked_ticket_id", "kind"),
        Index("ix_ticket_links_workspace_id_linked_ticket_id", "workspace_id", "linked_ticket_id"),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[UUID]
    linked_ticket_id: Mapped[UUID]
    kind: Mapped[LinkKind] = mapped_column(pg_enum(LinkKind, "link_kind"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Presence(Base):
    """An agent viewing or typing on a ticket, until `expires_at` unless refreshed."""

    __tablename__ = "ticket_presence"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "ticket_id"], ["tickets.workspace_id", "tickets.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["workspace_id", "agent_id"], ["agents.workspace_id", "agents.id"], ondelete="CASCADE"
        ),
        Index("ix_ticket_presence_expires_at", "expires_at"),
    )

    workspace_id: Mapped[UUID] = mapped_column(primary_key=True)
    ticket_id: Mapped[UUID] = mapped_column(primary_key=True)
    agent_id: Mapped[UUID] = mapped_column(primary_key=True)
    state: Mapped[PresenceState] = mapped_column(pg_enum(PresenceState, "presence_state"))
    expires_at: Mapped[datetime]
