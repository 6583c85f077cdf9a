"""SLA clocks in the ticket change pipeline: a new ticket's clocks start, a change moves them."""

from datetime import datetime
from typing import Any

from app.models import Ticket
from app.sla.service import SlaService
from app.tickets.pipeline import TicketHook
from app.tickets.service import TicketService


class SlaHook(TicketHook):
    async def start_clocks(
        self, service: TicketService, values: dict[str, Any], now: datetime, *, paused: bool
    ) -> list[Any]:
        return await SlaService(service.session, service.workspace_id).start(values, now, paused=paused)

    async def move_clocks(
        self, service: TicketService, ticket: Ticket, changed: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        return await SlaService(service.session, service.workspace_id).on_change(ticket, changed, now)
