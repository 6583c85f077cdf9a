from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, Versioned, WorkspaceScoped
from app.models.columns import pg_enum, scoped_fk
from app.models.enums import ActorType, Channel, CommentAuthor, Priority, StatusKind, TicketType

_UNRESOLVED = "deleted_at IS NULL AND status_kind IN ('new', 'open', 'pending', 'on_hold')"

# What reports group by and filter on most, and the metrics they add up (covered by their indexes).
REPORTED_COLUMNS = (
    "deleted_at",
    "status_kind",
    "channel",
    "priority",
    "group_id",
    "assignee_id",
    "category_id",
)
REPORTED_METRICS = (
    "first_reply_seconds",
    "first_reply_business_seconds",
    "resolution_seconds",
    "resolution_business_seconds",
    "next_reply_count",
    "next_reply_seconds",
    "next_reply_business_seconds",
    "reopens",
)

# The ticket's metrics (app/ticket_metrics): kept on its row, so that a change writes them in its own
# statement.
# Counters the database starts at 0; the rest a new ticket is given (null until known).
METRIC_COUNTERS = frozenset(
    {
        "agent_replies",
        "reopens",
        "next_reply_count",
        "next_reply_seconds",
        "agent_wait_seconds",
        "requester_wait_seconds",
    }
)
METRIC_COLUMNS = METRIC_COUNTERS | {
    "status_kind_changed_at",
    "awaiting_reply_since",
    "first_reply_seconds",
    "first_reply_business_seconds",
    "next_reply_business_seconds",
    "resolution_seconds",
    "resolution_business_seconds",
    "agent_wait_business_seconds",
    "requester_wait_business_seconds",
}


class Ticket(WorkspaceScoped, Timestamps, Versioned, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("workspace_id", "number"),
        scoped_fk("status_id", "ticket_statuses"),
        scoped_fk("category_id", "categories"),
        scoped_fk("group_id", "groups"),
        scoped_fk("assignee_id", "agents"),
        scoped_fk("requester_id", "contacts"),
        scoped_fk("parent_id", "tickets"),
        scoped_fk("merged_into_id", "tickets"),
        scoped_fk("sla_policy_id", "sla_policies"),
        scoped_fk("conversation_id", "conversations"),
        Index("ix_tickets_workspace_id_created_at_id", "workspace_id", "created_at", "id"),
        Index("ix_tickets_workspace_id_updated_at_id", "workspace_id", "updated_at", "id"),
        Index("ix_tickets_workspace_id_priority_id", "workspace_id", "priority", "id"),
        Index("ix_tickets_workspace_id_due_at_id", "workspace_id", "due_at", "id"),
        Index("ix_tickets_workspace_id_sla_due_at_id", "workspace_id", "sla_due_at", "id"),
        Index("ix_tickets_workspace_id_status_kind", "workspace_id", "status_kind"),
        Index("ix_tickets_workspace_id_assignee_id", "workspace_id", "assignee_id"),
        Index("ix_tickets_workspace_id_group_id", "workspace_id", "group_id"),
        Index("ix_tickets_workspace_id_category_id", "workspace_id", "category_id"),
        Index("ix_tickets_workspace_id_requester_id", "workspace_id", "requester_id"),
        Index(
            "ix_tickets_workspace_id_parent_id",
            "workspace_id",
            "parent_id",
            postgresql_where=text("parent_id IS NOT NULL"),
        ),
        # An agent's load, and the tickets waiting in a group for an agent who can take them.
        Index(
            "ix_tickets_workspace_id_assignee_id_unresolved",
            "workspace_id",
            "assignee_id",
            postgresql_where=text(f"assignee_id IS NOT NULL AND {_UNRESOLVED}"),
        ),
        Index(
            "ix_tickets_waiting",
            "workspace_id",
            "group_id",
            "created_at",
            postgresql_where=text(f"assignee_id IS NULL AND group_id IS NOT NULL AND {_UNRESOLVED}"),
        ),
        # Reports read these alone (index-only scans), not the rows: what was created in a period, with
        # what reports group by, filter on and add up; the backlog; what was solved in a period. The
        # first also counts the list by status (`status_id`).
        Index(
            "ix_tickets_reports",
            "workspace_id",
            "created_at",
            postgresql_include=[*REPORTED_COLUMNS, "status_id", *REPORTED_METRICS],
        ),
        Index(
            "ix_tickets_unresolved_reports",
            "workspace_id",
            "created_at",
            postgresql_include=list(REPORTED_COLUMNS[2:]),
            postgresql_where=text(_UNRESOLVED),
        ),
        # The lists the built-in views show and count (app/views/builtins.py).
        Index(
            "ix_tickets_unresolved", "workspace_id", "updated_at", "id", postgresql_where=text(_UNRESOLVED)
        ),
        Index(
            "ix_tickets_unresolved_group_id",
            "workspace_id",
            "group_id",
            postgresql_where=text(_UNRESOLVED),
        ),
        Index(
            "ix_tickets_unassigned",
            "workspace_id",
            "created_at",
            "id",
            postgresql_where=text(f"assignee_id IS NULL AND {_UNRESOLVED}"),
        ),
        Index(
            "ix_tickets_sla_breached",
            "workspace_id",
            "sla_due_at",
            "id",
            postgresql_where=text(f"sla_breached AND {_UNRESOLVED}"),
        ),
        Index(
            "ix_tickets_workspace_id_solved_at",
            "workspace_id",
            "solved_at",
            postgresql_include=["deleted_at", *REPORTED_COLUMNS[2:]],
            postgresql_where=text("solved_at IS NOT NULL"),
        ),
        # What the automation workers read: the tickets whose next automation time has come.
        Index(
            "ix_tickets_automation_due_at",
            "automation_due_at",
            postgresql_where=text("automation_due_at IS NOT NULL"),
        ),
        Index("ix_tickets_tag_keys", "tag_keys", postgresql_using="gin"),
        Index("ix_tickets_followers", "followers", postgresql_using="gin"),
        Index("ix_tickets_ccs", "ccs", postgresql_using="gin"),
        Index(
            "ix_tickets_external_refs",
            "external_refs",
            postgresql_using="gin",
            postgresql_ops={"external_refs": "jsonb_path_ops"},
        ),
        # Equality filters on custom fields (`custom_fields @> {"key": value}`).
        Index(
            "ix_tickets_custom_fields",
            "custom_fields",
            postgresql_using="gin",
            postgresql_ops={"custom_fields": "jsonb_path_ops"},
        ),
        Index(
            "ix_tickets_search_text",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(BigInteger)
    subject: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    status_id: Mapped[UUID]
    # Copied from the status (whose kind never changes) so that filters and rules need no join.
    status_kind: Mapped[StatusKind] = mapped_column(pg_enum(StatusKind, "status_kind"))
    priority: Mapped[Priority] = mapped_column(pg_enum(Priority, "ticket_priority"))
    type: Mapped[TicketType | None] = mapped_column(pg_enum(TicketType, "ticket_type"))
    category_id: Mapped[UUID | None]
    group_id: Mapped[UUID | None]
    assignee_id: Mapped[UUID | None]
    requester_id: Mapped[UUID | None]
    followers: Mapped[list[UUID]] = mapped_column(ARRAY(Uuid()), server_default="{}")
    # Contacts of the workspace copied on the ticket's public email replies.
    ccs: Mapped[list[UUID]] = mapped_column(ARRAY(Uuid()), server_default="{}")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}")
    # What an agent must know to be given the ticket by a group that assigns by skills.
    required_skills: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}")
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    channel: Mapped[Channel] = mapped_column(pg_enum(Channel, "channel"))
    external_refs: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")
    due_at: Mapped[datetime | None]
    parent_id: Mapped[UUID | None]
    internal: Mapped[bool] = mapped_column(Boolean, server_default="false")
    first_response_at: Mapped[datetime | None]
    last_public_comment_at: Mapped[datetime | None]
    last_public_comment_by: Mapped[CommentAuthor | None] = mapped_column(
        pg_enum(CommentAuthor, "comment_author")
    )
    # The last public reply of each side, for lists to filter on (the last public comment is either's).
    last_customer_reply_at: Mapped[datetime | None]
    last_agent_reply_at: Mapped[datetime | None]
    # Set when the ticket was merged into another; the ticket is then closed.
    merged_into_id: Mapped[UUID | None]
    # The SLA policy that applies, the soonest due time of its running metrics, and whether one is overdue
    # (kept here from ticket_slas, for lists to filter and sort on).
    sla_policy_id: Mapped[UUID | None]
    sla_due_at: Mapped[datetime | None]
    sla_breached: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # The channel conversation the ticket came from, where public replies are sent.
    conversation_id: Mapped[UUID | None]
    solved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # When the current assignee was given the ticket (automations' "hours since assigned").
    assigned_at: Mapped[datetime | None]
    # When the ticket's automations (app/automations) are next to be looked at, and those that acted on it
    # and wait for their conditions to stop holding before they may act on it again.
    automation_due_at: Mapped[datetime | None]
    automations_done: Mapped[list[UUID]] = mapped_column(ARRAY(Uuid()), server_default="{}")
    deleted_at: Mapped[datetime | None]
    # When the workspace's retention anonymised the closed ticket (app/privacy/retention.py).
    anonymized_at: Mapped[datetime | None]
    # The customer's latest rating (ticket_ratings holds one per solve), for lists to show and filter on.
    rating_score: Mapped[int | None] = mapped_column(SmallInteger)
    rating_good: Mapped[bool | None] = mapped_column(Boolean)
    rated_at: Mapped[datetime | None]
    # Subject and description folded (app/kit/search.py `search_key`); comments keep their own.
    search_text: Mapped[str] = mapped_column(Text, server_default="")
    # Metrics (app/metrics). Times in seconds: calendar time, and business time of the ticket's calendar
    # (null without one). Waits count the periods that ended: the current one runs from
    # `status_kind_changed_at`.
    status_kind_changed_at: Mapped[datetime | None]
    # Since when a customer's public message waits for an agent's public reply (a new ticket's creation
    # waits for the first reply); null when nothing waits.
    awaiting_reply_since: Mapped[datetime | None]
    first_reply_seconds: Mapped[int | None]
    first_reply_business_seconds: Mapped[int | None]
    next_reply_count: Mapped[int] = mapped_column(server_default="0")
    next_reply_seconds: Mapped[int] = mapped_column(BigInteger, server_default="0")
    next_reply_business_seconds: Mapped[int | None] = mapped_column(BigInteger)
    resolution_seconds: Mapped[int | None]
    resolution_business_seconds: Mapped[int | None]
    reopens: Mapped[int] = mapped_column(server_default="0")
    agent_replies: Mapped[int] = mapped_column(server_default="0")
    agent_wait_seconds: Mapped[int] = mapped_column(BigInteger, server_default="0")
    agent_wait_business_seconds: Mapped[int | None] = mapped_column(BigInteger)
    requester_wait_seconds: Mapped[int] = mapped_column(BigInteger, server_default="0")
    requester_wait_business_seconds: Mapped[int | None] = mapped_column(BigInteger)

    # The tags folded by the database (`helpdesk_fold`: accents and case away), whoever wrote them; for
    # filters only, so never loaded (an update expires it, and a lazy load would fail under async).
    tag_keys: Mapped[list[str]] = mapped_column(
        ARRAY(Text),
        Computed("helpdesk_tag_keys(tags)", persisted=True),
        deferred=True,
        deferred_raiseload=True,
    )


class TagCount(Base):
    """How many tickets (not deleted) carry a tag, as of the last changes workers folded in: a tag's count
    is this plus its rows in `tag_count_changes`."""

    __tablename__ = "tag_counts"
    __table_args__ = (
        Index(
            "ix_tag_counts_workspace_id_tag_key",
            "workspace_id",
            "tag_key",
            postgresql_ops={"tag_key": "text_pattern_ops"},
        ),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)
    tickets: Mapped[int] = mapped_column(Integer)
    tag_key: Mapped[str] = mapped_column(Text, Computed("helpdesk_fold(tag)", persisted=True))


# What each ticket write did to its tags' counts, appended by triggers on tickets in the write's
# transaction: +1 for a tag added (or a ticket restored), -1 for one removed (or a ticket deleted). No
# index, no key, no foreign key, so that a write looks nothing up and no other write waits for its rows;
# workers fold them into tag_counts.
tag_count_changes = Table(
    "tag_count_changes",
    Base.metadata,
    Column("workspace_id", Uuid, nullable=False),
    Column("tag", String(100), nullable=False),
    Column("delta", Integer, nullable=False),
)


class TicketHistory(WorkspaceScoped, Base):
    """One field of one change: who, when, old value, new value."""

    __tablename__ = "ticket_history"
    __table_args__ = (
        # Deferred so that a new ticket's history can be written before its ticket row.
        scoped_fk("ticket_id", "tickets", ondelete="CASCADE", deferrable=True, initially="DEFERRED"),
        Index("ix_ticket_history_workspace_id_ticket_id_id", "workspace_id", "ticket_id", "id"),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[UUID]
    change_id: Mapped[UUID]
    occurred_at: Mapped[datetime]
    actor_type: Mapped[ActorType] = mapped_column(pg_enum(ActorType, "actor_type"))
    actor_id: Mapped[UUID | None]
    field: Mapped[str] = mapped_column(String(100))
    old_value: Mapped[Any] = mapped_column(JSONB, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSONB, nullable=True)
