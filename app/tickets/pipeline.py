"""The ticket change pipeline: what takes part in a change to a ticket besides the ticket itself.

The ticket core checks a change and writes it — the row, its history and its events, in the caller's
transaction — and knows nothing of assignment, SLA clocks, channels or triggers. Those join as hooks
when the app and the worker are assembled (`app.assembly`). Every change, whoever makes it (a request,
a channel's message, a worker, a trigger), goes through these phases in this order, and each phase runs
the hooks in the order they were installed:

1. `route`: before the change is checked, who the ticket goes to (assignment);
2. `start_clocks` / `move_clocks`: as it is written, the clocks it starts or moves (SLA);
3. the write itself (the ticket core);
4. `comment_changes`: before a new comment is written, what else it changes on its ticket (the agents
   a note mentions follow it); `comment_added`: where it goes out once written (channels);
5. `after`: once the caller's change is written, what rules make of it (triggers), as changes of
   their own that go through the same phases.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.models import Comment, Ticket
from app.models.enums import AssignmentStrategy, SlaMetric
from app.outbox import EventType

if TYPE_CHECKING:
    from app.tickets.service import TicketService

Changes = dict[str, tuple[Any, Any]]


class TicketHook:
    """One concern taking part in ticket changes; a hook overrides the phases it takes part in."""

    async def route(
        self,
        service: "TicketService",
        ticket: Ticket | None,
        values: dict[str, Any],
        strategy: AssignmentStrategy | None,
    ) -> None:
        """Adjust `values` (a new ticket's, or the changes to `ticket`) before they are checked."""

    async def start_clocks(
        self, service: "TicketService", values: dict[str, Any], now: datetime, *, paused: bool
    ) -> list[Any]:
        """Rows to insert with a new ticket; may set columns of the ticket in `values`."""
        return []

    async def move_clocks(
        self, service: "TicketService", ticket: Ticket, changed: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        """Columns of the ticket that change along with `changed`."""
        return {}

    async def comment_added(self, service: "TicketService", ticket: Ticket, comment: Comment) -> None:
        """A comment was just added to the (locked) ticket."""

    async def comment_changes(
        self, service: "TicketService", ticket: Ticket, comment: Comment
    ) -> dict[str, Any]:
        """Columns of the ticket that change with the comment (not yet written), in the comment's change;
        may refuse the comment."""
        return {}

    async def listens(self, service: "TicketService", event: EventType) -> bool:
        """Whether `after` may do anything for this event."""
        return False

    async def after(
        self,
        service: "TicketService",
        event: EventType,
        ticket: Ticket,
        changes: Changes,
        *,
        comment: Comment | None = None,
        sla_metric: SlaMetric | None = None,
    ) -> Ticket:
        """React to a change written to the (locked) ticket; returns the ticket as left."""
        return ticket


class TicketPipeline:
    def __init__(self, hooks: Sequence[TicketHook]) -> None:
        self.hooks = tuple(hooks)

    async def route(
        self,
        service: "TicketService",
        ticket: Ticket | None,
        values: dict[str, Any],
        strategy: AssignmentStrategy | None,
    ) -> None:
        for hook in self.hooks:
            await hook.route(service, ticket, values, strategy)

    async def start_clocks(
        self, service: "TicketService", values: dict[str, Any], now: datetime, *, paused: bool
    ) -> list[Any]:
        rows: list[Any] = []
        for hook in self.hooks:
            rows += await hook.start_clocks(service, values, now, paused=paused)
        return rows

    async def move_clocks(
        self, service: "TicketService", ticket: Ticket, changed: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        moved: dict[str, Any] = {}
        for hook in self.hooks:
            moved |= await hook.move_clocks(service, ticket, {**changed, **moved}, now)
        return moved

    async def comment_added(self, service: "TicketService", ticket: Ticket, comment: Comment) -> None:
        for hook in self.hooks:
            await hook.comment_added(service, ticket, comment)

    async def comment_changes(
        self, service: "TicketService", ticket: Ticket, comment: Comment
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for hook in self.hooks:
            changes |= await hook.comment_changes(service, ticket, comment)
        return changes

    async def listens(self, service: "TicketService", event: EventType) -> bool:
        for hook in self.hooks:
            if await hook.listens(service, event):
                return True
        return False

    async def after(
        self,
        service: "TicketService",
        event: EventType,
        ticket: Ticket,
        changes: Changes,
        *,
        comment: Comment | None = None,
        sla_metric: SlaMetric | None = None,
    ) -> Ticket:
        for hook in self.hooks:
            ticket = await hook.after(service, event, ticket, changes, comment=comment, sla_metric=sla_metric)
        return ticket


_installed: TicketPipeline | None = None


def install(pipeline: TicketPipeline) -> None:
    global _installed
    _installed = pipeline


def ticket_pipeline() -> TicketPipeline:
    if _installed is None:
        raise RuntimeError("the ticket pipeline is not assembled: call app.assembly.assemble() first")
    return _installed
