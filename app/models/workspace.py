from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.ids import new_id
from app.models.base import Base, Versioned
from app.models.columns import pg_enum
from app.models.enums import Locale

DEFAULT_BRAND_COLOR = "#1d4ed8"


class Workspace(Versioned, Base):
    __tablename__ = "workspaces"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Moved by a database trigger whenever the workspace's rules change (see app/rules/snapshot.py).
    rules_version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # Requests a minute the workspace's credentials may make together; null: the service's default.
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    # The language of the texts the service writes: notes, call summaries, subjects.
    locale: Mapped[Locale] = mapped_column(pg_enum(Locale, "locale"), server_default=Locale.vi.value)
    # The email channel whose SMTP server sends notification emails; null: they are not sent. No foreign
    # key (workspaces are distributed before channels): a channel deleted since is the same as none.
    notification_channel_id: Mapped[UUID | None]
    # Retention (app/privacy/retention.py); null: kept for as long as the workspace lives.
    inbound_retention_days: Mapped[int | None] = mapped_column(Integer)
    closed_ticket_anonymize_months: Mapped[int | None] = mapped_column(Integer)
    # The colour of the customer pages' header and buttons, `#rrggbb` in lower case.
    brand_color: Mapped[str] = mapped_column(String(7), server_default=DEFAULT_BRAND_COLOR)


def ticket_number_sequence(workspace_id: UUID) -> str:
    """The name of the workspace's sequence of ticket numbers, created with the workspace.

    A sequence hands out a number without a lock held until commit, so the creations of one workspace
    do not wait for each other; a creation that rolls back once it has its number leaves a gap.
    """
    return f"ticket_numbers_{workspace_id.hex}"
