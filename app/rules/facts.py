"""The facts about a ticket that rule conditions are checked against, read only as far as they need."""

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.calendars.business_time import business_seconds_between, working_periods
from app.kit.json_form import to_json
from app.models import Contact
from app.rules.conditions import CUSTOM_FIELD_PREFIX, FIELDS, TIME_FIELDS, Facts
from app.rules.snapshot import Rules


async def ticket_facts(
    session: AsyncSession,
    workspace_id: UUID,
    ticket: Mapping[str, Any],
    *,
    needed: set[str],
    calendar_ids: Iterable[UUID] = (),
    rules: Rules,
    now: datetime,
    changes: Mapping[str, tuple[Any, Any]] | None = None,
) -> Facts:
    """`ticket` maps the ticket's columns to their values; `needed` are the condition fields in use,
    `calendar_ids` the calendars whose working hours they ask about, and `rules` the workspace's rules,
    with its calendars and its category tree."""
    values = {name: to_json(ticket.get(name)) for name in FIELDS if name in ticket}
    for key, value in (ticket.get("custom_fields") or {}).items():
        values[f"{CUSTOM_FIELD_PREFIX}{key}"] = value
    if "category_id" in needed and ticket.get("category_id") is not None:
        path = rules.category_path(ticket["category_id"])
        values["category_id"] = [str(category_id) for category_id in path]
    if "requester_vip" in needed:
        values["requester_vip"] = await _requester_vip(session, workspace_id, ticket.get("requester_id"))
    working_now: dict[str, bool] = {}
    for calendar_id in calendar_ids:
        calendar = rules.calendars.get(calendar_id)
        periods = working_periods(calendar, now, now + timedelta(seconds=1)) if calendar else iter(())
        working_now[str(calendar_id)] = next(periods, None) is not None

    def hours_since(name: str, calendar_id: str | None) -> float | None:
        start = ticket.get(TIME_FIELDS[name])
        if start is None:
            return None
        if calendar_id is None:
            return (now - start).total_seconds() / 3600
        calendar = rules.calendars.get(UUID(calendar_id))
        if calendar is None:
            return None
        return business_seconds_between(calendar, start, now) / 3600 if now > start else 0.0

    return Facts(
        values=values,
        changes={name: (to_json(old), to_json(new)) for name, (old, new) in (changes or {}).items()},
        in_business_hours=lambda calendar_id: working_now.get(calendar_id, False),
        hours_since=hours_since,
    )


async def _requester_vip(session: AsyncSession, workspace_id: UUID, requester_id: UUID | None) -> bool:
    if requester_id is None:
        return False
    statement = select(Contact.vip).where(Contact.workspace_id == workspace_id, Contact.id == requester_id)
    return bool(await session.scalar(statement))
