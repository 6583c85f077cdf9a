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
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.comments.schemas import CommentCreate
from app.comments.service import CommentService
from app.config import Settings
from app.errors import AppError, Unprocessable
from app.kit.time import utcnow
from app.macros.changes import ticket_update
from app.macros.repository import MacroRepository
from app.macros.service import MacroService
from app.models import Comment, Ticket, Trigger
from app.models.enums import ActorType, CommentAuthor, Role, SlaMetric
from app.notifications.actions import notify_new_assignee, run_notify
from app.notifications.schemas import NotifyAction
from app.outbox import EventType
from app.rules.conditions import matches
from app.rules.facts import ticket_facts
from app.rules.snapshot import Rules, rules_of
from app.tickets.changes import columns_of, history_rows
from app.tickets.repository import TicketRepository
from app.tickets.schemas import TicketUpdate
from app.tickets.service import TicketService
from app.tickets.writes import discard_held, holding_writes, write_held
from app.triggers.schemas import (
    AddCommentAction,
    AssignByStrategyAction,
    SetCategoryAction,
    SetCustomFieldsAction,
    TriggerAction,
)
from app.webhooks.calls import run_call_url
from app.webhooks.schemas import CallUrlAction

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
        # The comment whose change fired the triggers, if it was one: a notify action's recipients depend
        # on whether it is an internal note, and a call_url body may read it.
        self.comment: Comment | None = None

    async def listening(self, event: EventType) -> bool:
        """Whether any active trigger could run for the event (or for the updates its actions make)."""
        return event.value in (await self._rules()).events_listened

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
        self.comment = comment
        depth = _depth.get()
        if depth >= MAX_DEPTH:
            await self._cut_off(ticket, f"{event.value} at depth {depth}")
            return ticket
        about_event: dict[str, Any] = {}
        if comment is not None:
            about_event = {"comment_public": comment.public, "comment_author": comment.author_type.value}
        if sla_metric is not None:
            about_event = {"sla_metric": sla_metric.value}
        async with holding_writes(self.session, self.workspace_id):
            return await self._passes(event, ticket, changes, about_event, depth)

    async def _passes(
        self, event: EventType, ticket: Ticket, changes: Changes, about_event: dict[str, Any], depth: int
    ) -> Ticket:
        fired: set[UUID] = set()
        for _ in range(MAX_PASSES):
            made: Changes = {}
            for trigger in (await self._rules()).triggers:
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

    async def _rules(self) -> Rules:
        return await rules_of(self.session, self.workspace_id)

    async def _matches(
        self, trigger: Trigger, ticket: Ticket, changes: Changes, about_event: dict[str, Any]
    ) -> bool:
        rules = await self._rules()
        compiled = rules.trigger_conditions[trigger.id]
        facts = await ticket_facts(
            self.session,
            self.workspace_id,
            {**columns_of(ticket), **about_event},
            needed=compiled.fields,
            calendar_ids=compiled.calendar_ids,
            rules=rules,
            now=utcnow(),
            changes=changes,
        )
        return matches(trigger.conditions, facts)

    async def _fire(self, trigger: Trigger, ticket: Ticket, depth: int) -> tuple[Ticket, Changes]:
        actor = Principal(self.workspace_id, Role.admin, ActorType.trigger, trigger.id)
        token = _depth.set(depth + 1)
        try:
            return await self.apply_actions(actor, trigger.actions, ticket, rule_kind="triggers")
        finally:
            _depth.reset(token)

    async def apply_actions(
        self, actor: Principal, stored: list[dict[str, Any]], ticket: Ticket, *, rule_kind: str
    ) -> tuple[Ticket, Changes]:
        """Apply a rule's stored actions as the rule (`actor`), all or nothing; returns the ticket and its
        changes. A failure is written to the ticket's history under `rule_kind` (triggers, automations).

        Actions that only set the ticket's fields fail, if they do, before they write anything; those
        that also write elsewhere (a reply, an assignment) run in a savepoint, once what the triggers
        before them hold back is written.
        """
        service = TicketService(self.session, actor, self.settings)
        actions = [_ACTIONS.validate_python(action) for action in stored]
        writes_elsewhere = any(action.type in _WRITING_ELSEWHERE for action in actions)
        try:
            if not writes_elsewhere:
                ticket = await self._apply(actions, ticket, service, actor)
            else:
                await write_held(self.session)
                async with self.session.begin_nested():
                    ticket = await self._apply(actions, ticket, service, actor)
        except AppError as error:
            logger.warning(
                "%s %s could not run on ticket %s: %s", rule_kind, actor.actor_id, ticket.id, error.detail
            )
            if writes_elsewhere:
                discard_held(self.session)
                await self.session.refresh(ticket)
            await service.repo.add_history(
                history_rows(ticket.id, actor, {rule_kind: (None, {"failed": error.detail})})
            )
            return ticket, {}
        return ticket, service.recorded.pop(ticket.id, {})

    async def _apply(
        self, actions: list[TriggerAction], ticket: Ticket, service: TicketService, actor: Principal
    ) -> Ticket:
        change, strategy = _ticket_change(actions)
        if change.changes() or strategy is not None:
            ticket = await service.change(ticket, change, strategy=strategy)
            await notify_new_assignee(self.session, actor, ticket, service.recorded.get(ticket.id, {}))
        for action in actions:
            if isinstance(action, AddCommentAction):
                ticket = await self._comment(ticket, action, actor)
            elif isinstance(action, NotifyAction):
                await run_notify(self.session, self.settings, actor, ticket, action, comment=self.comment)
            elif isinstance(action, CallUrlAction):
                await run_call_url(self.session, self.settings, actor, ticket, action, comment=self.comment)
        return ticket

    async def _comment(self, ticket: Ticket, action: AddCommentAction, actor: Principal) -> Ticket:
        macro = await MacroRepository(self.session, self.workspace_id).get(action.macro_id)
        if macro is None:
            raise Unprocessable("the macro of an add_comment action was deleted", field="actions")
        body = await MacroService(self.session, actor, self.settings).render_for(macro, ticket)
        comments = CommentService(self.session, actor, self.settings)
        comment = CommentCreate(body=body, public=action.public)
        if ticket.merged_into_id is not None:
            await comments.add(ticket.id, comment, allow_closed=True)  # lands on the ticket merged into
            return ticket
        # The ticket is held locked and kept current by the writes on it: not read again.
        await comments.add_to(ticket, comment, (CommentAuthor.system, None), allow_closed=True)
        return ticket

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
# Actions that may write more than the ticket's own row: choosing an assignee marks the group's turn
# (and notifies them), notify writes notifications and emails, call_url a delivery.
_WRITING_ELSEWHERE = frozenset(
    {"add_comment", "assign_by_strategy", "set_group", "set_assignee", "notify", "call_url"}
)
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
