"""Ticket metrics in the ticket change pipeline: worked out as the change is written, into its statement."""

from datetime import datetime
from typing import Any

from app.models import Ticket
from app.rules.snapshot import rules_of
from app.ticket_metrics.calculation import at_creation, calendar_for, on_change
from app.tickets.pipeline import TicketHook
from app.tickets.service import TicketService

# The columns a change must touch for a metric to move.
_MOVING = frozenset({"status_kind", "last_public_comment_at"})


class MetricsHook(TicketHook):
    """Installed after the SLA clocks, so that it sees the policy (and so the calendar) a change gives."""

    async def start_clocks(
        self, service: TicketService, values: dict[str, Any], now: datetime, *, paused: bool
    ) -> list[Any]:
        rules = await rules_of(service.session, service.workspace_id)
        values.update(at_creation(values, now, calendar_for(rules, values.get("sla_policy_id"))))
        return []

    async def move_clocks(
        self, service: TicketService, ticket: Ticket, changed: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        if not changed.keys() & _MOVING:
            return {}
        rules = await rules_of(service.session, service.workspace_id)
        calendar = calendar_for(rules, changed.get("sla_policy_id", ticket.sla_policy_id))
        return on_change(ticket, changed, now, calendar)
