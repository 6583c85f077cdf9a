"""Automations in the ticket change pipeline: every change works out the ticket's next automation time."""

from datetime import datetime
from typing import Any

from app.automations.schedule import changed_schedule, schedule_of
from app.models import Ticket
from app.models.enums import ActorType
from app.rules.snapshot import rules_of
from app.tickets.changes import columns_of
from app.tickets.pipeline import TicketHook
from app.tickets.service import TicketService


class AutomationHook(TicketHook):
    async def start_clocks(
        self, service: TicketService, values: dict[str, Any], now: datetime, *, paused: bool
    ) -> list[Any]:
        rules = await rules_of(service.session, service.workspace_id)
        if rules.automations:
            schedule = await schedule_of(service.session, service.workspace_id, rules, values, now)
            values["automation_due_at"] = schedule["automation_due_at"]
        return []

    async def move_clocks(
        self, service: TicketService, ticket: Ticket, changed: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        rules = await rules_of(service.session, service.workspace_id)
        if not rules.automations and ticket.automation_due_at is None and not ticket.automations_done:
            return {}
        principal = service.principal
        acting = [principal.actor_id] if principal.actor_type is ActorType.automation else []
        after = {**columns_of(ticket), **changed, "updated_at": now}
        schedule = await schedule_of(service.session, service.workspace_id, rules, after, now, acting=acting)
        return changed_schedule(after, schedule)
