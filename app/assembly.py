"""The service put together: the hooks every ticket change goes through (see `app.tickets.pipeline` for
the phases), and those of an agent who stops taking work, installed once per process by the API and the
worker."""

from app.agents.hooks import install_agent_hooks
from app.assignment.hooks import AssignmentHook, ReleaseHook
from app.automations.hooks import AutomationHook
from app.channels.hooks import ReplyHook
from app.notifications.hooks import NotificationHook
from app.sla.hooks import SlaHook
from app.ticket_metrics.hooks import MetricsHook
from app.tickets.pipeline import TicketPipeline, install
from app.triggers.hooks import TriggerHook

# In each phase the hooks run in this order: assignment routes before the clocks start, so that SLA
# conditions see the assignee; metrics follow the clocks, whose policy names the calendar they count in;
# replies are queued before triggers run, so a trigger's own reply follows; notifications tell of the
# caller's change before triggers make changes of their own; automations work out their next time from
# the change as every other hook left it.
TICKET_HOOKS = (
    AssignmentHook(),
    SlaHook(),
    MetricsHook(),
    ReplyHook(),
    NotificationHook(),
    TriggerHook(),
    AutomationHook(),
)
AGENT_HOOKS = (ReleaseHook(),)


def assemble() -> None:
    install(TicketPipeline(TICKET_HOOKS))
    install_agent_hooks(AGENT_HOOKS)
