from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, WorkspaceScoped
from app.models.columns import pg_enum
from app.models.enums import ActorType, PortalTokenKind


class CustomerLink(WorkspaceScoped, Base):
    """A token that opens one ticket's public thread to its customer, kept only as its hash.

    A ticket's link may have several tokens (each public reply sent by email carries one of its own);
    revoking the link deletes them all, and issuing it again leaves one new token."""

    __tablename__ = "customer_links"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "ticket_id"], ["tickets.workspace_id", "tickets.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("workspace_id", "token_hash"),
        Index("ix_customer_links_workspace_id_ticket_id", "workspace_id", "ticket_id"),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[UUID]
    token_hash: Mapped[str] = mapped_column(String(64))
    created_by_type: Mapped[ActorType] = mapped_column(pg_enum(ActorType, "actor_type"))
    created_by_id: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class TicketRating(WorkspaceScoped, Base):
    """The customer's rating of one solve of a ticket: a score of 1 to 5, or simply good or bad."""

    __tablename__ = "ticket_ratings"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "ticket_id"], ["tickets.workspace_id", "tickets.id"], ondelete="CASCADE"
        ),
        # One rating per solve: the solve is known by the time the ticket was solved.
        UniqueConstraint("workspace_id", "ticket_id", "solved_at"),
        # Reports count the ratings given in a period.
        Index("ix_ticket_ratings_workspace_id_created_at", "workspace_id", "created_at"),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[UUID]
    solved_at: Mapped[datetime]
    # 1 to 5; null for a rating given as good or bad alone.
    score: Mapped[int | None] = mapped_column(SmallInteger)
    # A score of 4 or 5 is good.
    good: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class PortalToken(WorkspaceScoped, Base):
    """What opens a contact's list of tickets: a single-use link sent to their email address, and the
    session it is exchanged for. Kept only as hashes.

    A link to send is its own outbox row: the worker makes its token when it sends the mail (a new one
    at each attempt), so that the token is never stored but as its hash."""

    __tablename__ = "portal_tokens"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "contact_id"], ["contacts.workspace_id", "contacts.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("workspace_id", "token_hash"),
        # What the purge of expired tokens scans, across workspaces.
        Index("ix_portal_tokens_expires_at", "expires_at"),
        # The links waiting to be sent, across workspaces.
        Index(
            "ix_portal_tokens_next_attempt_at",
            "next_attempt_at",
            postgresql_where=text("next_attempt_at IS NOT NULL"),
        ),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[UUID]
    kind: Mapped[PortalTokenKind] = mapped_column(pg_enum(PortalTokenKind, "portal_token_kind"))
    # Null for a link the worker has not made yet.
    token_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # A link to send: when to try (null once sent, or given up), how often it was tried, and why not.
    next_attempt_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
