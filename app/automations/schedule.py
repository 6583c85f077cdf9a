"""When a ticket's automations are next to be looked at, worked out from the ticket as it stands.

An automation's time conditions say when it can act: each `at_least` condition from the moment it
counts from, plus its hours (business hours: of its calendar), the latest of them; a `less_than`
condition closes the window. What else the automation asks of the ticket is checked now: a ticket
that does not meet it is not due for that automation until a change (which works this out again).
The ticket's time is the soonest of its automations'; at that time a worker checks every condition.

An automation that acted on a ticket is in `automations_done` until its conditions stop holding (a
change the automation did not make itself is when that is checked): it acts once per time they hold.
"""

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.calendars.business_time import add_business_time
from app.models import Automation
from app.models.enums import StatusKind
from app.rules.conditions import TIME_FIELDS, Facts, Operator, matches
from app.rules.facts import ticket_facts
from app.rules.snapshot import Rules


async def schedule_of(
    session: AsyncSession,
    workspace_id: UUID,
    rules: Rules,
    ticket: Mapping[str, Any],
    now: datetime,
    *,
    acting: Collection[UUID] = (),
) -> dict[str, Any]:
    """The ticket's `automation_due_at` and `automations_done`, for `ticket` (its columns as they stand
    after a change); `acting`: the automations that make the change, which are done."""
    if not rules.automations:  # none active: none of their marks counts any more
        return {"automation_due_at": None, "automations_done": []}
    done: list[UUID] = list(ticket.get("automations_done") or [])
    done += [automation_id for automation_id in acting if automation_id not in done]
    if ticket.get("deleted_at") is not None or ticket["status_kind"] is StatusKind.closed:
        return {"automation_due_at": None, "automations_done": done}
    facts = await ticket_facts(
        session, workspace_id, ticket, needed=set(rules.automation_fields), rules=rules, now=now
    )
    still_done = [
        automation_id
        for automation_id in done
        if automation_id in acting
        or (
            automation_id in rules.automation_conditions
            and matches(rules.automation_conditions[automation_id].conditions, facts)
        )
    ]
    due = min(
        filter(
            None,
            (
                _due(automation, ticket, rules, facts)
                for automation in rules.automations
                if automation.id not in still_done
            ),
        ),
        default=None,
    )
    return {"automation_due_at": due, "automations_done": still_done}


def changed_schedule(ticket: Mapping[str, Any], schedule: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in schedule.items() if ticket.get(name) != value}


def _due(automation: Automation, ticket: Mapping[str, Any], rules: Rules, facts: Facts) -> datetime | None:
    """When the automation's time conditions all hold, if the rest of its conditions hold now."""
    timed = [c for c in automation.conditions.get("all", []) if c["field"] in TIME_FIELDS]
    rest = {**automation.conditions, "all": [c for c in automation.conditions["all"] if c not in timed]}
    if not matches(rest, facts):
        return None
    starts: list[datetime] = []
    ends: list[datetime] = []
    for condition in timed:
        moment = _moment(condition, ticket, rules)
        if moment is None:
            return None
        (starts if condition["operator"] == Operator.at_least.value else ends).append(moment)
    due = max(starts)
    if ends and due >= min(ends):
        return None
    return due


def _moment(condition: dict[str, Any], ticket: Mapping[str, Any], rules: Rules) -> datetime | None:
    """When the time the condition counts reaches its hours."""
    start: datetime | None = ticket.get(TIME_FIELDS[condition["field"]])
    if start is None:
        return None
    seconds = float(condition["value"]) * 3600
    calendar_id = condition.get("calendar_id")
    if calendar_id is None:
        return start + timedelta(seconds=seconds)
    calendar = rules.calendars.get(UUID(calendar_id))
    return add_business_time(calendar, start, seconds) if calendar is not None else None
