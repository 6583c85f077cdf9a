from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Boolean, ForeignKey, ForeignKeyConstraint, Index, SmallInteger, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, Versioned, WorkspaceScoped
from app.models.columns import pg_enum
from app.models.enums import IdentityKind


class Organization(WorkspaceScoped, Timestamps, Versioned, Base):
    __tablename__ = "organizations"
    __table_args__ = (
        Index("uq_organizations_workspace_id_name", "workspace_id", text("lower(name)"), unique=True),
        Index("ix_organizations_domains", "domains", postgresql_using="gin"),
        Index(
            "ix_organizations_search_text",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200))
    domains: Mapped[list[str]] = mapped_column(ARRAY(String(253)), server_default="{}")
    external_id: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    search_text: Mapped[str] = mapped_column(Text, server_default="")


class Contact(WorkspaceScoped, Timestamps, Versioned, Base):
    """A customer; `email` and `phone` are the primary identities, mirrored in `contact_identities`."""

    __tablename__ = "contacts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "organization_id"], ["organizations.workspace_id", "organizations.id"]
        ),
        Index(
            "uq_contacts_workspace_id_external_id",
            "workspace_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
        Index("ix_contacts_workspace_id_organization_id", "workspace_id", "organization_id"),
        Index(
            "ix_contacts_search_text",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    vip: Mapped[bool] = mapped_column(Boolean, server_default="false")
    organization_id: Mapped[UUID | None]
    external_id: Mapped[str | None] = mapped_column(String(200))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    search_text: Mapped[str] = mapped_column(Text, server_default="")
    # When the customer's personal data was erased (app/privacy): the row stays, empty, so that their
    # tickets keep their requester and reports still count them.
    erased_at: Mapped[datetime | None]


class ContactIdentity(WorkspaceScoped, Base):
    """Who a contact is on one channel: an email address, a phone number, a Messenger PSID, a Zalo id."""

    __tablename__ = "contact_identities"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "contact_id"], ["contacts.workspace_id", "contacts.id"], ondelete="CASCADE"
        ),
        Index("uq_contact_identities_workspace_id_kind_value", "workspace_id", "kind", "value", unique=True),
        Index("ix_contact_identities_workspace_id_contact_id", "workspace_id", "contact_id"),
        # The worker's claim of due profile fetches, across workspaces; the few due ones only.
        Index(
            "ix_contact_identities_profile_due_at",
            "profile_due_at",
            postgresql_where=text("profile_due_at IS NOT NULL"),
        ),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[UUID]
    kind: Mapped[IdentityKind] = mapped_column(pg_enum(IdentityKind, "identity_kind"))
    value: Mapped[str] = mapped_column(String(320))
    # A customer who came on a channel without a name: the channel whose provider the worker asks for
    # their profile, and when (NULL: nothing to fetch). No foreign key: a channel with conversations is
    # never deleted, and a fetch whose channel is gone is given up.
    profile_channel_id: Mapped[UUID | None]
    profile_due_at: Mapped[datetime | None]
    # The fetch's tries so far, each counted when a worker claims it.
    profile_attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
