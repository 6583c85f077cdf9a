"""The views every workspace starts with: each is a saved list query like any other view."""

from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.ids import new_id
from app.kit.texts import text
from app.models import TicketView
from app.models.enums import Locale, ViewVisibility

UNRESOLVED = "new,open,pending,on_hold"
DEFAULT_COLUMNS = ["number", "subject", "requester_id", "status_id", "priority", "assignee_id", "updated_at"]


@dataclass(frozen=True)
class BuiltInView:
    key: str
    filters: dict[str, str]
    sort: str
    columns: list[str] = field(default_factory=lambda: list(DEFAULT_COLUMNS))


BUILT_IN_VIEWS = (
    BuiltInView("mine", {"assignee": "me", "status_kind": UNRESOLVED}, "-updated_at"),
    BuiltInView("unassigned", {"assignee": "none", "status_kind": UNRESOLVED}, "created_at"),
    BuiltInView("my_groups", {"group": "mine", "status_kind": UNRESOLVED}, "-updated_at"),
    BuiltInView("all_open", {"status_kind": UNRESOLVED}, "-updated_at"),
    BuiltInView(
        "recently_solved", {"status_kind": "solved,closed", "solved_within_days": "7"}, "-updated_at"
    ),
    BuiltInView("sla_breached", {"sla_breached": "true", "status_kind": UNRESOLVED}, "sla_due_at"),
)
# Built-in views come first, ten apart, so that views can be put between them.
POSITION_STEP = 10


async def create_built_in_views(session: AsyncSession, workspace_id: UUID, locale: Locale) -> None:
    """The views a new workspace starts with, shared with everyone, named in its locale."""
    for index, view in enumerate(BUILT_IN_VIEWS):
        session.add(
            TicketView(
                workspace_id=workspace_id,
                id=new_id(),
                name=text(locale, f"view.{view.key}"),
                filters=view.filters,
                sort=view.sort,
                columns=view.columns,
                visibility=ViewVisibility.everyone,
                group_ids=[],
                position=index * POSITION_STEP,
                built_in=view.key,
                hidden=False,
            )
        )
    await session.flush()
