from datetime import datetime
from uuid import UUID

from sqlalchemy import Boolean, ForeignKey, ForeignKeyConstraint, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, Versioned, WorkspaceScoped
from app.models.columns import pg_enum, scoped_fk
from app.models.enums import AssignmentStrategy, Availability, Role, TicketAccess


class AgentRole(WorkspaceScoped, Timestamps, Versioned, Base):
    """A custom role: the permissions of the agents who have it, in place of their built-in role's."""

    __tablename__ = "agent_roles"
    __table_args__ = (
        Index("uq_agent_roles_workspace_id_name", "workspace_id", text("lower(name)"), unique=True),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(2000))
    permissions: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default="{}")


class Agent(WorkspaceScoped, Timestamps, Versioned, Base):
    __tablename__ = "agents"
    __table_args__ = (
        # A role in use cannot be deleted; the index finds its agents for that check.
        scoped_fk("custom_role_id", "agent_roles", ondelete="RESTRICT"),
        Index(
            "ix_agents_workspace_id_custom_role_id",
            "workspace_id",
            "custom_role_id",
            postgresql_where=text("custom_role_id IS NOT NULL"),
        ),
        Index("uq_agents_workspace_id_external_id", "workspace_id", "external_id", unique=True),
        Index(
            "uq_agents_workspace_id_email",
            "workspace_id",
            text("lower(email)"),
            unique=True,
            postgresql_where=text("email IS NOT NULL"),
        ),
    )

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[Role] = mapped_column(pg_enum(Role, "role"))
    availability: Mapped[Availability] = mapped_column(
        pg_enum(Availability, "availability"), server_default=Availability.offline.value
    )
    capacity: Mapped[int] = mapped_column(Integer, server_default="20")
    skills: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}")
    ticket_access: Mapped[TicketAccess] = mapped_column(
        pg_enum(TicketAccess, "ticket_access"), server_default=TicketAccess.all.value
    )
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    custom_role_id: Mapped[UUID | None]
    # Folded name and email, for accent-insensitive `q` searches.
    search_text: Mapped[str] = mapped_column(Text, server_default="")


class Group(WorkspaceScoped, Timestamps, Versioned, Base):
    __tablename__ = "groups"
    __table_args__ = (Index("uq_groups_workspace_id_name", "workspace_id", text("lower(name)"), unique=True),)

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    assignment_strategy: Mapped[AssignmentStrategy] = mapped_column(
        pg_enum(AssignmentStrategy, "assignment_strategy"), server_default=AssignmentStrategy.manual.value
    )
    # Whether agents who are away still receive tickets (online agents always do).
    assign_to_away: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # Whether an agent's running tickets go back to the group when they go offline or are deactivated.
    reassign_on_offline: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # Folded name, for accent-insensitive `q` searches.
    search_text: Mapped[str] = mapped_column(Text, server_default="")


class GroupMember(Base):
    __tablename__ = "group_members"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "group_id"], ["groups.workspace_id", "groups.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["workspace_id", "agent_id"], ["agents.workspace_id", "agents.id"], ondelete="CASCADE"
        ),
        Index("ix_group_members_workspace_id_agent_id", "workspace_id", "agent_id"),
    )

    workspace_id: Mapped[UUID] = mapped_column(primary_key=True)
    group_id: Mapped[UUID] = mapped_column(primary_key=True)
    agent_id: Mapped[UUID] = mapped_column(primary_key=True)
    # Round robin hands the next ticket to the member who received one longest ago.
    last_assigned_at: Mapped[datetime | None]
