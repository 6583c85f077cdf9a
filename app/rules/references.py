"""Conditions name ids of the workspace; one that names anything else is refused when it is stored."""

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Unprocessable
from app.kit.repository import exists_in_workspace
from app.models import Agent, BusinessCalendar, Category, Contact, Group, TicketStatus

# The table each condition field names an id of, and how an error calls it.
_REFERENCED: dict[str, tuple[type[Any], str]] = {
    "group_id": (Group, "group"),
    "assignee_id": (Agent, "agent"),
    "status_id": (TicketStatus, "status"),
    "requester_id": (Contact, "contact"),
    "category_id": (Category, "category"),
    "business_hours": (BusinessCalendar, "calendar"),
}


async def check_condition_references(
    session: AsyncSession, workspace_id: UUID, conditions: dict[str, Any], *, field: str = "conditions"
) -> None:
    for part in ("all", "any"):
        for position, condition in enumerate(conditions.get(part, [])):
            calendar_id = condition.get("calendar_id")
            if calendar_id is not None and not await exists_in_workspace(
                session, BusinessCalendar, workspace_id, UUID(calendar_id)
            ):
                where = f"{field}.{part}.{position}.calendar_id"
                raise Unprocessable(f"{where}: no such calendar", field=where, code="unknown_reference")
            referenced = _REFERENCED.get(condition["field"])
            value = condition.get("value")
            if referenced is None or value is None:
                continue
            model, name = referenced
            for named in value if isinstance(value, list) else [value]:
                if not await exists_in_workspace(session, model, workspace_id, UUID(named)):
                    where = f"{field}.{part}.{position}.value"
                    raise Unprocessable(f"{where}: no such {name}", field=where, code="unknown_reference")
