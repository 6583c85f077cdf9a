"""Triggers in the ticket change pipeline: once a change is written, the triggers listening to it run."""

from app.models import Comment, Ticket
from app.models.enums import SlaMetric
from app.outbox import EventType
from app.tickets.pipeline import Changes, TicketHook
from app.tickets.service import TicketService
from app.triggers.runner import TriggerRunner


class TriggerHook(TicketHook):
    async def listens(self, service: TicketService, event: EventType) -> bool:
        return await TriggerRunner(service.session, service.workspace_id, service.settings).listening(event)

    async def after(
        self,
        service: TicketService,
        event: EventType,
        ticket: Ticket,
        changes: Changes,
        *,
        comment: Comment | None = None,
        sla_metric: SlaMetric | None = None,
    ) -> Ticket:
        runner = TriggerRunner(service.session, service.workspace_id, service.settings)
        return await runner.run(event, ticket, changes, comment=comment, sla_metric=sla_metric)
