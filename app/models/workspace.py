from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.ids import new_id
from app.models.base import Base


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Moved by a database trigger whenever the workspace's rules change (see app/rules/snapshot.py).
    rules_version: Mapped[int] = mapped_column(BigInteger, server_default="0")


class TicketCounter(Base):
    """The last ticket number handed out; its row lock makes numbers gap-free."""

    __tablename__ = "ticket_counters"

    workspace_id: Mapped[UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    last_number: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
