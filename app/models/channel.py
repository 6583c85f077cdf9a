from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, Versioned, WorkspaceScoped
from app.models.columns import pg_enum, scoped_fk
from app.models.enums import ChannelKind, DeliveryState, InboundState, Priority


class MessagingChannel(WorkspaceScoped, Timestamps, Versioned, Base):
    """Where customers' messages come from and replies go back: a chat widget, a CRM, a mailbox, a page."""

    __tablename__ = "channels"
    __table_args__ = (
        scoped_fk("default_group_id", "groups"),
        scoped_fk("default_category_id", "categories"),
        Index("uq_channels_workspace_id_name", "workspace_id", text("lower(name)"), unique=True),
        # Inbound URLs name the channel alone: providers know nothing of workspaces. Not a unique index
        # (see ix_api_keys_key_hash): ids are made by the service, unique by construction.
        Index("ix_channels_id", "id"),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[ChannelKind] = mapped_column(pg_enum(ChannelKind, "channel_kind"))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # Per kind, as app/channels/schemas.py validates them; never secrets.
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    # Secrets only ever checked (e.g. the channel token): name -> SHA-256 hex.
    secret_hashes: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")
    # Secrets the service uses (signing keys, provider tokens): a JSON object, encrypted.
    secrets_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    default_group_id: Mapped[UUID | None]
    default_category_id: Mapped[UUID | None]
    default_priority: Mapped[Priority] = mapped_column(
        pg_enum(Priority, "ticket_priority"), server_default="normal"
    )
    default_tags: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}")
    # What the channel receives for, taken from its settings when they are saved: an email channel's
    # address (lower case, without a `+tag`: the listener delivers every tag to it), the Page or OA id
    # and the Zalo app id of a provider's account. NULL when another channel holds it. Each is held in
    # `channel_claims` too, which keeps it one channel's in the whole service.
    claimed_address: Mapped[str | None] = mapped_column(String(320))
    claimed_account_id: Mapped[str | None] = mapped_column(String(64))
    claimed_app_id: Mapped[str | None] = mapped_column(String(64))


class ChannelClaim(Base):
    """What one channel receives for, across workspaces: an email address, a Page, an OA, a Zalo app.

    Its own table rather than unique indexes on `channels`, so that `channels` can be distributed by
    workspace while this stays one table for the whole service (a reference table: docs/distribution.md).
    No foreign key to the channel for the same reason: the channels service writes and removes a
    channel's claims in the channel's transaction.
    """

    __tablename__ = "channel_claims"
    __table_args__ = (Index("ix_channel_claims_workspace_id_channel_id", "workspace_id", "channel_id"),)

    # The channel's column the claim is held in, with the kind where the value's meaning depends on it
    # (`messenger:claimed_account_id` is a Page, `zalo:claimed_account_id` an OA).
    claim: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(320), primary_key=True)
    workspace_id: Mapped[UUID]
    channel_id: Mapped[UUID]


class Conversation(WorkspaceScoped, Base):
    """A thread with one customer on one channel; its messages go on `ticket_id` while it is open."""

    __tablename__ = "conversations"
    __table_args__ = (
        scoped_fk("channel_id", "channels", ondelete="CASCADE"),
        scoped_fk("contact_id", "contacts", ondelete="CASCADE"),
        UniqueConstraint("workspace_id", "channel_id", "external_id"),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[UUID]
    # The provider's thread: a chat conversation id, a PSID, a Zalo user id, a caller's number.
    external_id: Mapped[str] = mapped_column(String(500))
    contact_id: Mapped[UUID]
    # The ticket messages of the conversation go to (no foreign key: tickets name their conversation).
    ticket_id: Mapped[UUID | None]
    # Where replies go, as the channel's adapter needs it.
    address: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    last_inbound_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class InboundMessage(WorkspaceScoped, Base):
    """An event as a channel received it: stored before it is answered, processed by a worker after."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        scoped_fk("channel_id", "channels", ondelete="CASCADE"),
        # A provider re-sending an event finds it here and changes nothing.
        UniqueConstraint("workspace_id", "channel_id", "provider_message_id"),
        # Claimed oldest first; the id (time-ordered) keeps one request's messages in their order.
        Index(
            "ix_inbound_messages_due",
            "next_attempt_at",
            "id",
            postgresql_where=text("state = 'received'"),
        ),
        Index(
            "ix_inbound_messages_channel_id_received_at",
            "workspace_id",
            "channel_id",
            "received_at",
        ),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[UUID]
    provider_message_id: Mapped[str] = mapped_column(String(500))
    # What the payload is: a message, a call record.
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The message as received, when it is not JSON (an email, RFC 5322): kept whole.
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[InboundState] = mapped_column(
        pg_enum(InboundState, "inbound_state"), server_default="received"
    )
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]
    ticket_id: Mapped[UUID | None]
    comment_id: Mapped[UUID | None]


class OutboundMessage(WorkspaceScoped, Base):
    """A public reply to send on the ticket's channel, queued with the comment, sent by a worker."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        scoped_fk("channel_id", "channels", ondelete="CASCADE"),
        scoped_fk("conversation_id", "conversations", ondelete="CASCADE"),
        Index("ix_outbound_messages_due", "next_attempt_at", postgresql_where=text("state = 'queued'")),
        # Echoes: a provider sending back what the service sent is known by its id.
        Index(
            "ix_outbound_messages_provider_message_id",
            "workspace_id",
            "channel_id",
            "provider_message_id",
            postgresql_where=text("provider_message_id IS NOT NULL"),
        ),
        Index("ix_outbound_messages_workspace_id_comment_id", "workspace_id", "comment_id"),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[UUID]
    conversation_id: Mapped[UUID]
    ticket_id: Mapped[UUID]
    comment_id: Mapped[UUID]
    state: Mapped[DeliveryState] = mapped_column(
        pg_enum(DeliveryState, "delivery_state"), server_default="queued"
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # A worker sending it holds it until then; after, another may (at least once, never lost).
    leased_until: Mapped[datetime | None]
    provider_message_id: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None]
