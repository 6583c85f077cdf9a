"""SLA clocks on tickets: the policy that applies, and what each change of a ticket does to its clocks."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import SlaPolicy, Ticket, TicketSla
from app.models.enums import CommentAuthor, SlaMetric, SlaState, StatusKind
from app.rules.conditions import CUSTOM_FIELD_PREFIX, matches
from app.rules.facts import ticket_facts
from app.rules.snapshot import Rules, rules_of
from app.sla import clock
from app.sla.clock import TimeBase, WarningLead
from app.sla.repository import ClockRepository
from app.tickets.changes import columns_of
from app.tickets.schemas import SlaMetricOut, TicketSlaOut

RESOLVED = (StatusKind.solved, StatusKind.closed)
# Changes that move clocks whatever the policies say.
_CLOCK_COLUMNS = frozenset(
    {"status_id", "status_kind", "deleted_at", "first_response_at", "last_public_comment_at", "priority"}
)
# The ticket column a condition field is read from.
_COLUMN_OF = {"requester_vip": "requester_id"}


def warning_of(policy: SlaPolicy) -> WarningLead:
    return WarningLead(percent=policy.warn_at_percent, minutes_before=policy.warn_minutes_before)


def target_of(policy: SlaPolicy, priority: Any, metric: SlaMetric) -> dict[str, Any] | None:
    wanted = (str(getattr(priority, "value", priority)), metric.value)
    return next((t for t in policy.targets if (t["priority"], t["metric"]) == wanted), None)


def summary(clocks: Iterable[TicketSla]) -> dict[str, Any]:
    """What the ticket row keeps of its clocks, for lists to filter and sort on."""
    clocks = list(clocks)
    due = [c.due_at for c in clocks if c.state is SlaState.running and c.due_at is not None]
    overdue = any(
        c.breached_at is not None and c.state in (SlaState.running, SlaState.paused) for c in clocks
    )
    return {"sla_due_at": min(due, default=None), "sla_breached": overdue}


class SlaService:
    def __init__(self, session: AsyncSession, workspace_id: UUID) -> None:
        self.session = session
        self.workspace_id = workspace_id
        self.clocks = ClockRepository(session, workspace_id)

    async def rules(self) -> Rules:
        return await rules_of(self.session, self.workspace_id)

    async def policy(self, policy_id: UUID) -> SlaPolicy:
        # A clock's policy cannot be deleted while the clock exists.
        return (await self.rules()).policies[policy_id]

    async def warning(self, policy_id: UUID) -> WarningLead:
        return warning_of(await self.policy(policy_id))

    async def time_base(self, business_hours: bool, calendar_id: UUID | None) -> TimeBase:
        if not business_hours or calendar_id is None:
            return TimeBase(None)
        return TimeBase((await self.rules()).calendars.get(calendar_id))

    async def match(self, ticket: Mapping[str, Any], now: datetime) -> SlaPolicy | None:
        """The first active policy, by position, whose conditions the ticket meets."""
        rules = await self.rules()
        if not rules.active_policies:
            return None
        facts = await ticket_facts(
            self.session,
            self.workspace_id,
            ticket,
            needed=rules.policy_fields,
            calendar_ids=rules.policy_calendar_ids,
            rules=rules,
            now=now,
        )
        return next((policy for policy in rules.active_policies if matches(policy.conditions, facts)), None)

    async def start(self, ticket: dict[str, Any], now: datetime, *, paused: bool) -> list[TicketSla]:
        """The clocks of a new ticket (to insert once the ticket is); sets its SLA columns in `ticket`."""
        policy = None if ticket["status_kind"] in RESOLVED else await self.match(ticket, now)
        clocks: list[TicketSla] = []
        if policy is not None:
            for metric in (SlaMetric.first_response, SlaMetric.resolution):
                new = await self._new_clock(
                    ticket["id"], policy, ticket["priority"], metric, now, paused=paused
                )
                if new is not None:
                    clocks.append(new)
        ticket.update({"sla_policy_id": policy and policy.id, **summary(clocks)})
        return clocks

    async def on_change(self, ticket: Ticket, changed: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        """Move the ticket's clocks for a change about to be written; returns the SLA columns that change
        with them."""
        policies_look_at = await self._policy_columns() if self._may_matter(changed) else set()
        if not (changed.keys() & (_CLOCK_COLUMNS | policies_look_at)):
            return {}
        after = {**columns_of(ticket), **changed}
        if ticket.sla_policy_id is None and not _may_revive(ticket, changed, after, policies_look_at):
            return {}  # without a policy, every clock it had is done: the change moves none
        clocks = {c.metric: c for c in await self.clocks.of_ticket(ticket.id)}
        paused = _Lazy(lambda: self._paused(after))
        policy_id = ticket.sla_policy_id

        if changed.keys() & (policies_look_at | {"priority"}):
            if after["status_kind"] in RESOLVED:
                policy = (
                    await self.policy(policy_id) if policy_id else None
                )  # a resolved ticket keeps its own
            else:
                policy = await self.match(after, now)
            new_id = policy.id if policy else None
            if new_id != policy_id or "priority" in changed:
                await self._apply_policy(ticket.id, after, policy, clocks, now, paused)
                policy_id = new_id

        if changed.keys() & {"status_id", "deleted_at"}:
            for metric_clock in clocks.values():
                move = clock.pause if await paused.get() else clock.resume
                await self._act(move, metric_clock, now)

        resolved_before, resolved_after = ticket.status_kind in RESOLVED, after["status_kind"] in RESOLVED
        if changed.get("merged_into_id") is not None:
            for metric_clock in clocks.values():
                await self._act(clock.cancel, metric_clock, now)
        elif resolved_after and not resolved_before:
            for metric, metric_clock in clocks.items():
                done = clock.fulfil if metric is SlaMetric.resolution else clock.cancel
                await self._act(done, metric_clock, now)
        elif resolved_before and not resolved_after and SlaMetric.resolution in clocks:
            await self._act(clock.reopen, clocks[SlaMetric.resolution], now, paused=await paused.get())

        first_reply = ticket.first_response_at is None and changed.get("first_response_at") is not None
        if first_reply and SlaMetric.first_response in clocks:
            await self._act(clock.fulfil, clocks[SlaMetric.first_response], now)
        if "last_public_comment_at" in changed:
            author = after["last_public_comment_by"]
            if author is CommentAuthor.agent and SlaMetric.next_response in clocks:
                await self._act(clock.fulfil, clocks[SlaMetric.next_response], now)
            waiting_again = (
                author is CommentAuthor.contact
                and ticket.last_public_comment_by is CommentAuthor.agent
                and after["first_response_at"] is not None
                and not resolved_after
            )
            if waiting_again and policy_id is not None:
                await self._next_cycle(ticket.id, after, await self.policy(policy_id), clocks, now, paused)

        await self.session.flush()
        columns = {"sla_policy_id": policy_id, **summary(clocks.values())}
        return {name: value for name, value in columns.items() if getattr(ticket, name) != value}

    async def describe(self, ticket: Ticket, now: datetime) -> TicketSlaOut | None:
        if ticket.sla_policy_id is None:
            return None
        clocks = sorted(await self.clocks.of_ticket(ticket.id, lock=False), key=_metric_order)
        return TicketSlaOut(
            policy_id=ticket.sla_policy_id, metrics=[await self.describe_clock(c, now) for c in clocks]
        )

    async def describe_clock(self, metric_clock: TicketSla, now: datetime) -> SlaMetricOut:
        base = await self.time_base(metric_clock.business_hours, metric_clock.calendar_id)
        counted = clock.elapsed(metric_clock, base, now)
        return SlaMetricOut(
            metric=metric_clock.metric,
            cycle=metric_clock.cycle,
            state=metric_clock.state,
            target_minutes=metric_clock.target_seconds // 60,
            business_hours=metric_clock.business_hours,
            calendar_id=metric_clock.calendar_id,
            started_at=metric_clock.started_at,
            due_at=metric_clock.due_at,
            elapsed_minutes=round(counted / 60, 2),
            remaining_minutes=round((metric_clock.target_seconds - counted) / 60, 2),
            warned_at=metric_clock.warned_at,
            breached_at=metric_clock.breached_at,
            fulfilled_at=metric_clock.fulfilled_at,
        )

    async def _apply_policy(
        self,
        ticket_id: UUID,
        after: Mapping[str, Any],
        policy: SlaPolicy | None,
        clocks: dict[SlaMetric, TicketSla],
        now: datetime,
        paused: "_Lazy",
    ) -> None:
        """Another policy, or another priority: clocks take the new targets, keeping what they counted."""
        for metric in SlaMetric:
            target = target_of(policy, after["priority"], metric) if policy else None
            existing = clocks.get(metric)
            if existing is not None:
                if target is None or policy is None:
                    await self._act(clock.cancel, existing, now)
                    continue
                old_base = await self.time_base(existing.business_hours, existing.calendar_id)
                _set_target(existing, policy, target)
                new_base = await self.time_base(existing.business_hours, existing.calendar_id)
                clock.retarget(existing, old_base, new_base, warning_of(policy), now)
            elif policy is not None and _due_from_the_start(metric, after):
                new = await self._new_clock(
                    ticket_id, policy, after["priority"], metric, now, paused=await paused.get()
                )
                if new is not None:
                    self.session.add(new)
                    clocks[metric] = new

    async def _next_cycle(
        self,
        ticket_id: UUID,
        after: Mapping[str, Any],
        policy: SlaPolicy,
        clocks: dict[SlaMetric, TicketSla],
        now: datetime,
        paused: "_Lazy",
    ) -> None:
        """The customer wrote after an agent's reply: the next response is due."""
        existing = clocks.get(SlaMetric.next_response)
        if existing is None:
            new = await self._new_clock(
                ticket_id, policy, after["priority"], SlaMetric.next_response, now, paused=await paused.get()
            )
            if new is not None:
                self.session.add(new)
                clocks[SlaMetric.next_response] = new
            return
        if existing.state in (SlaState.running, SlaState.paused):
            return  # still answering the previous message
        existing.cycle += 1
        base = await self.time_base(existing.business_hours, existing.calendar_id)
        clock.start(
            existing, base, warning_of(await self.policy(existing.policy_id)), now, paused=await paused.get()
        )

    async def _new_clock(
        self,
        ticket_id: UUID,
        policy: SlaPolicy,
        priority: Any,
        metric: SlaMetric,
        now: datetime,
        *,
        paused: bool,
    ) -> TicketSla | None:
        target = target_of(policy, priority, metric)
        if target is None:
            return None
        new = TicketSla(
            workspace_id=self.workspace_id,
            ticket_id=ticket_id,
            metric=metric,
            cycle=1,
            cycles_fulfilled=0,
            cycles_breached=0,
        )
        _set_target(new, policy, target)
        base = await self.time_base(new.business_hours, new.calendar_id)
        clock.start(new, base, warning_of(policy), now, paused=paused)
        return new

    async def _act(self, action: Any, metric_clock: TicketSla, now: datetime, **options: Any) -> None:
        base = await self.time_base(metric_clock.business_hours, metric_clock.calendar_id)
        action(metric_clock, base, await self.warning(metric_clock.policy_id), now, **options)

    async def _paused(self, after: Mapping[str, Any]) -> bool:
        if after.get("deleted_at") is not None:
            return True
        status = (await self.rules()).statuses.get(after["status_id"])
        return status is not None and status.pauses_sla

    def _may_matter(self, changed: Mapping[str, Any]) -> bool:
        unrelated = {"updated_at", "search_text", "followers", "ccs", "external_refs", "due_at"}
        return bool(changed.keys() - unrelated)

    async def _policy_columns(self) -> set[str]:
        """The ticket columns some active policy's conditions read."""
        columns = set()
        for name in (await self.rules()).policy_fields:
            if name.startswith(CUSTOM_FIELD_PREFIX):
                columns.add("custom_fields")
            elif name != "business_hours":
                columns.add(_COLUMN_OF.get(name, name))
        return columns


def _may_revive(
    ticket: Ticket, changed: Mapping[str, Any], after: Mapping[str, Any], policies_look_at: set[str]
) -> bool:
    """Whether a change to a ticket without a policy may give it one, or reopen a clock it kept."""
    reopened = ticket.status_kind in RESOLVED and after["status_kind"] not in RESOLVED
    return reopened or bool(changed.keys() & (policies_look_at | {"priority"}))


class _Lazy:
    """A value computed on first use, at most once."""

    def __init__(self, compute: Any) -> None:
        self._compute = compute
        self._value: Any = None
        self._done = False

    async def get(self) -> Any:
        if not self._done:
            self._value = await self._compute()
            self._done = True
        return self._value


def _set_target(metric_clock: TicketSla, policy: SlaPolicy, target: Mapping[str, Any]) -> None:
    metric_clock.policy_id = policy.id
    metric_clock.target_seconds = target["minutes"] * 60
    metric_clock.business_hours = target["business_hours"]
    metric_clock.calendar_id = policy.calendar_id if target["business_hours"] else None


def _due_from_the_start(metric: SlaMetric, ticket: Mapping[str, Any]) -> bool:
    """Whether a policy applying to a ticket that had none starts this clock now."""
    if ticket["status_kind"] in RESOLVED:
        return False
    if metric is SlaMetric.first_response:
        return ticket["first_response_at"] is None
    return metric is SlaMetric.resolution


def _metric_order(metric_clock: TicketSla) -> int:
    return list(SlaMetric).index(metric_clock.metric)
