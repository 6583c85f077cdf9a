"""Running triggers, in the transaction of the change that fired them.

The active triggers listening to the event run in order, each at most once per change. What a trigger
changes is seen by the triggers after it in the same pass, and fires, as a ticket update, a further
pass of the triggers that have not run yet. A trigger that adds a comment fires the comment triggers
for that comment, one level deeper; past `MAX_DEPTH` levels (or `MAX_PASSES` passes) the chain is cut
off and the cut is written to the ticket's history. A trigger whose actions cannot be applied (say an
agent it assigns to was deactivated) changes nothing, and its failure is written to the history too.
"""

import logging
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.config import Settings
from app.errors import AppError, Unprocessable
from app.kit.time import utcnow
from app.macros.changes import ticket_update
from app.macros.repository import MacroRepository
from app.models import Comment, Ticket, Trigger
from app.models.enums import ActorType, Role, SlaMetric
from app.outbox import EventType
from app.rules.conditions import calendars_used, fields_used, matches
from app.rules.facts import ticket_facts
from app.sla.calendars import Calendars
from app.sla.service import columns_of
from app.tickets.changes import history_rows
from app.tickets.repository import TicketRepository
from app.tickets.schemas import TicketUpdate
from app.triggers.repository import TriggerRepository
from app.triggers.schemas import (
    AddCommentAction,
    AssignByStrategyAction,
    SetCategoryAction,
    SetCustomFieldsAction,
    TriggerAction,
)

if TYPE_CHECKING:
    from app.tickets.service import TicketService

logger = logging.getLogger(__name__)

MAX_DEPTH = 3
MAX_PASSES = 10
# How deep in trigger-made changes the current one is: 0 for a change a caller made.
_depth: ContextVar[int] = ContextVar("trigger_depth", default=0)

Changes = dict[str, tuple[Any, Any]]


class TriggerRunner:
    def __init__(self, session: AsyncSession, workspace_id: UUID, settings: Settings) -> None:
        self.session = session
        self.workspace_id = workspace_id
        self.settings = settings
        self.calendars = Calendars(session, workspace_id)
        self._triggers: list[Trigger] | None = None

    async def listening(self, event: EventType) -> bool:
        """Whether any active trigger could run for the event (or for the updates its actions make)."""
        return any(event.value in trigger.events for trigger in await self._active())

    async def run(
        self,
        event: EventType,
        ticket: Ticket,
        changes: Changes,
        *,
        comment: Comment | None = None,
        sla_metric: SlaMetric | None = None,
    ) -> Ticket:
        """Run the triggers of `event` for a change of the (locked) ticket; returns it as they left it."""
        if not await self.listening(event):
            return ticket
        depth = _depth.get()
        if depth >= MAX_DEPTH:
            await self._cut_off(ticket, f"{event.value} at depth {depth}")
            return ticket
        about_event: dict[str, Any] = {}
        if comment is not None:
            about_event = {"comment_public": comment.public, "comment_author": comment.author_type.value}
        if sla_metric is not None:
            about_event = {"sla_metric": sla_metric.value}
        fired: set[UUID] = set()
        for _ in range(MAX_PASSES):
            made: Changes = {}
            for trigger in await self._active():
                if trigger.id in fired or event.value not in trigger.events:
                    continue
                if not await self._matches(trigger, ticket, {**changes, **made}, about_event):
                    continue
                fired.add(trigger.id)
                ticket, trigger_made = await self._fire(trigger, ticket, depth)
                for name, (old, new) in trigger_made.items():
                    made[name] = (made[name][0] if name in made else old, new)
            if not made:
                return ticket
            # The triggers' own changes are an update, for the triggers that have not run yet.
            event, changes, about_event = EventType.ticket_updated, made, {}
        await self._cut_off(ticket, f"more than {MAX_PASSES} passes")
        return ticket

    async def _active(self) -> list[Trigger]:
        if self._triggers is None:
            self._triggers = await TriggerRepository(self.session, self.workspace_id).active_in_order()
        return self._triggers

    async def _matches(
        self, trigger: Trigger, ticket: Ticket, changes: Changes, about_event: dict[str, Any]
    ) -> bool:
        facts = await ticket_facts(
            self.session,
            self.workspace_id,
            {**columns_of(ticket), **about_event},
            needed=fields_used(trigger.conditions),
            calendar_ids=calendars_used(trigger.conditions),
            calendars=self.calendars,
            now=utcnow(),
            changes=changes,
        )
        return matches(trigger.conditions, facts)

    async def _fire(self, trigger: Trigger, ticket: Ticket, depth: int) -> tuple[Ticket, Changes]:
        """Apply the trigger's actions as the trigger, all or nothing; returns the ticket and its changes."""
        from app.tickets.service import TicketService

        actor = Principal(self.workspace_id, Role.admin, ActorType.trigger, trigger.id)
        service = TicketService(self.session, actor, self.settings)
        token = _depth.set(depth + 1)
        try:
            async with self.session.begin_nested():
                ticket = await self._apply(trigger, ticket, service, actor)
        except AppError as error:
            logger.warning("trigger %s could not run on ticket %s: %s", trigger.id, ticket.id, error.detail)
            await self.session.refresh(ticket)
            await service.repo.add_history(
                history_rows(ticket.id, actor, {"triggers": (None, {"failed": error.detail})})
            )
            return ticket, {}
        finally:
            _depth.reset(token)
        return ticket, service.recorded.pop(ticket.id, {})

    async def _apply(
        self, trigger: Trigger, ticket: Ticket, service: "TicketService", actor: Principal
    ) -> Ticket:
        actions = [_ACTIONS.validate_python(action) for action in trigger.actions]
        change, strategy = _ticket_change(actions)
        if change.changes() or strategy is not None:
            ticket = await service.change(ticket, change, strategy=strategy)
        for action in actions:
            if isinstance(action, AddCommentAction):
                ticket = await self._comment(ticket, action, actor)
        return ticket

    async def _comment(self, ticket: Ticket, action: AddCommentAction, actor: Principal) -> Ticket:
        from app.comments.schemas import CommentCreate
        from app.comments.service import CommentService
        from app.macros.service import MacroService

        macro = await MacroRepository(self.session, self.workspace_id).get(action.macro_id)
        if macro is None:
            raise Unprocessable("the macro of an add_comment action was deleted", field="actions")
        body = await MacroService(self.session, actor, self.settings).render_for(macro, ticket)
        comments = CommentService(self.session, actor, self.settings)
        await comments.add(ticket.id, CommentCreate(body=body, public=action.public), allow_closed=True)
        return await comments.tickets.get(ticket.id, for_update=True)

    async def _cut_off(self, ticket: Ticket, reason: str) -> None:
        logger.warning("triggers cut off on ticket %s: %s", ticket.id, reason)
        system = Principal(self.workspace_id, Role.admin, ActorType.system, ticket.id)
        await TicketRepository(self.session, self.workspace_id).add_history(
            history_rows(ticket.id, system, {"triggers": (None, {"cut_off": reason})})
        )


def _ticket_change(actions: list[TriggerAction]) -> tuple[TicketUpdate, Any]:
    """The field changes of the actions, as one ticket change, and the strategy to assign by."""
    values = ticket_update([action for action in actions if action.type in _MACRO_ACTIONS]).changes()
    strategy = None
    for action in actions:
        if isinstance(action, SetCategoryAction):
            values["category_id"] = action.category_id
        elif isinstance(action, SetCustomFieldsAction):
            values["custom_fields"] = action.custom_fields
        elif isinstance(action, AssignByStrategyAction):
            strategy = action.strategy
            values["assignee_id"] = None
    return TicketUpdate(**values), strategy


_ACTIONS: TypeAdapter[TriggerAction] = TypeAdapter(TriggerAction)
_MACRO_ACTIONS = frozenset(
    {
        "set_status",
        "set_priority",
        "set_type",
        "set_group",
        "set_assignee",
        "add_tags",
        "remove_tags",
        "add_follower",
    }
)
