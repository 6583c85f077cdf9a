from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Boolean, Float, ForeignKey, ForeignKeyConstraint, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, Versioned, WorkspaceScoped
from app.models.columns import pg_enum
from app.models.enums import SlaMetric, SlaState


class BusinessCalendar(WorkspaceScoped, Timestamps, Versioned, Base):
    """Working hours (giờ làm việc) in a time zone, and the days off, that SLA clocks count in."""

    __tablename__ = "business_calendars"
    __table_args__ = (
        Index("uq_business_calendars_workspace_id_name", "workspace_id", text("lower(name)"), unique=True),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
    # [{"day": "monday", "start": "08:00", "end": "12:00"}, …]; an end not after the start is the next day's.
    hours: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    # [{"start": "2027-02-05", "end": "2027-02-11", "name": "Tết"}, …], both days included.
    holidays: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")


class SlaPolicy(WorkspaceScoped, Timestamps, Versioned, Base):
    """Targets per priority for tickets matching the conditions; the first matching policy applies."""

    __tablename__ = "sla_policies"
    __table_args__ = (
        Index("uq_sla_policies_workspace_id_name", "workspace_id", text("lower(name)"), unique=True),
        ForeignKeyConstraint(
            ["workspace_id", "calendar_id"], ["business_calendars.workspace_id", "business_calendars.id"]
        ),
        Index("ix_sla_policies_workspace_id_calendar_id", "workspace_id", "calendar_id"),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # As validated by app/rules/conditions.py (`Conditions`).
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    calendar_id: Mapped[UUID | None]
    # [{"priority": "urgent", "metric": "first_response", "minutes": 30, "business_hours": true}, …]
    targets: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    # When the warning goes out: at this share of the target elapsed, or this many minutes before due.
    warn_at_percent: Mapped[int | None] = mapped_column(Integer)
    warn_minutes_before: Mapped[int | None] = mapped_column(Integer)


class TicketSla(Base):
    """The clock of one metric of one ticket: its current cycle, and the tally of past ones.

    Time counted (business or calendar seconds, per the target) accrues in `elapsed_seconds` up to
    `running_since`; while running, the due time is `running_since` plus what remains, counted in the
    target's time. Pausing folds the running stretch into `elapsed_seconds`.
    """

    __tablename__ = "ticket_slas"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "ticket_id"], ["tickets.workspace_id", "tickets.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["workspace_id", "policy_id"], ["sla_policies.workspace_id", "sla_policies.id"]),
        ForeignKeyConstraint(
            ["workspace_id", "calendar_id"], ["business_calendars.workspace_id", "business_calendars.id"]
        ),
        # The workers' scan: what is due for a warning or a breach, soonest first.
        Index(
            "ix_ticket_slas_next_check_at",
            "next_check_at",
            postgresql_where=text("next_check_at IS NOT NULL"),
        ),
        Index("ix_ticket_slas_workspace_id_policy_id", "workspace_id", "policy_id"),
        Index("ix_ticket_slas_workspace_id_calendar_id", "workspace_id", "calendar_id"),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[UUID] = mapped_column(primary_key=True)
    metric: Mapped[SlaMetric] = mapped_column(pg_enum(SlaMetric, "sla_metric"), primary_key=True)
    policy_id: Mapped[UUID]
    # 1 for first response and resolution; next response counts its cycles.
    cycle: Mapped[int] = mapped_column(Integer, server_default="1")
    target_seconds: Mapped[int] = mapped_column(Integer)
    business_hours: Mapped[bool] = mapped_column(Boolean)
    calendar_id: Mapped[UUID | None]
    state: Mapped[SlaState] = mapped_column(pg_enum(SlaState, "sla_state"))
    started_at: Mapped[datetime]
    elapsed_seconds: Mapped[float] = mapped_column(Float, server_default="0")
    running_since: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    warn_at: Mapped[datetime | None]
    warned_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    fulfilled_at: Mapped[datetime | None]
    # The earliest of warn_at and due_at still to be announced; null when nothing is.
    next_check_at: Mapped[datetime | None]
    # Past cycles of next response, and how many of all cycles were breached.
    cycles_fulfilled: Mapped[int] = mapped_column(Integer, server_default="0")
    cycles_breached: Mapped[int] = mapped_column(Integer, server_default="0")
