"""The automation workers: act on the tickets whose next automation time has come, and work out the
times again across a workspace whose automations changed.

The scan reads the index of next automation times, not the tickets: an idle scan reads only the
index. Each ticket is acted on in a transaction of its own, locked as every ticket change locks it;
one that another transaction holds is left for the next scan. The automation's changes, its mark on the ticket
and the ticket's next time commit together, so that several workers never act twice, and a worker that
dies mid-ticket leaves it to the next.
"""

import logging
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.automations.schedule import changed_schedule, schedule_of
from app.config import Settings
from app.db import Database
from app.kit import metrics
from app.models import AutomationRescan, Ticket
from app.models.enums import ActorType, Role, StatusKind
from app.outbox import EventType
from app.rules.conditions import matches
from app.rules.facts import ticket_facts
from app.rules.snapshot import rules_of
from app.tickets.changes import columns_of
from app.tickets.service import TicketService
from app.tickets.writes import holding_writes
from app.triggers.runner import TriggerRunner

logger = logging.getLogger(__name__)

BATCH = 200
# A ticket whose automations failed unexpectedly is looked at again this much later, not at once.
RETRY_AFTER = timedelta(minutes=15)


async def act_on_due(db: Database, settings: Settings, now: datetime) -> int:
    """Run the automations of the tickets due by `now`; returns how many times automations acted."""
    due = (
        select(Ticket.workspace_id, Ticket.id)
        .where(Ticket.automation_due_at <= now)
        .order_by(Ticket.automation_due_at)
        .limit(BATCH)
    )
    acted = 0
    while True:
        async with db.sessionmaker() as session:
            keys = (await session.execute(due)).all()
        looked_at = 0
        for workspace_id, ticket_id in keys:
            try:
                async with db.sessionmaker() as session, session.begin():
                    outcome = await _act(session, settings, workspace_id, ticket_id, now)
            except Exception:
                logger.exception("automations failed on ticket %s", ticket_id)
                await _put_off(db, workspace_id, ticket_id, now + RETRY_AFTER)
                continue
            if outcome is not None:
                looked_at += 1
                acted += outcome
                metrics.AUTOMATION_RUNS.inc(outcome)
        # A short batch was the last; one whose tickets others all held is left to the next scan.
        if len(keys) < BATCH or not looked_at:
            return acted


async def _put_off(db: Database, workspace_id: UUID, ticket_id: UUID, until: datetime) -> None:
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(Ticket)
            .where(Ticket.workspace_id == workspace_id, Ticket.id == ticket_id)
            .values(automation_due_at=until)
        )


# Run for every due ticket: built once, since building a statement costs more than running it.
_LOCK_DUE = (
    select(Ticket)
    .where(
        Ticket.workspace_id == bindparam("workspace_id"),
        Ticket.id == bindparam("ticket_id"),
        Ticket.automation_due_at <= bindparam("now"),
    )
    .with_for_update(skip_locked=True)
)


async def _act(
    session: AsyncSession, settings: Settings, workspace_id: UUID, ticket_id: UUID, now: datetime
) -> int | None:
    """How many automations acted on the ticket; None when it was not looked at."""
    parameters = {"workspace_id": workspace_id, "ticket_id": ticket_id, "now": now}
    ticket = await session.scalar(_LOCK_DUE, parameters)
    if ticket is None:
        return None  # held by another transaction, or no longer due
    rules = await rules_of(session, workspace_id)
    acted: list[UUID] = []
    # The changes of every automation that acts, with their history and events, in one statement.
    async with holding_writes(session, workspace_id):
        for automation in rules.automations:
            if automation.id in ticket.automations_done:
                continue
            if ticket.status_kind is StatusKind.closed or ticket.deleted_at is not None:
                break
            compiled = rules.automation_conditions[automation.id]
            facts = await ticket_facts(
                session, workspace_id, columns_of(ticket), needed=set(compiled.fields), rules=rules, now=now
            )
            if not matches(automation.conditions, facts):
                continue
            acted.append(automation.id)
            actor = Principal(workspace_id, Role.admin, ActorType.automation, automation.id)
            runner = TriggerRunner(session, workspace_id, settings)
            ticket, changes = await runner.apply_actions(
                actor, automation.actions, ticket, rule_kind="automations"
            )
            if changes:
                service = TicketService(session, actor, settings)
                ticket = await service.pipeline.after(service, EventType.ticket_updated, ticket, changes)
    current = columns_of(ticket)
    schedule = await schedule_of(session, workspace_id, rules, current, now, acting=acted)
    if not acted and schedule["automation_due_at"] is not None and schedule["automation_due_at"] <= now:
        # Due, yet no automation's conditions held: nothing will, until the ticket changes.
        schedule["automation_due_at"] = None
    # What the changes did not already write (an automation that only notified, or failed).
    for name, value in changed_schedule(current, schedule).items():
        setattr(ticket, name, value)
    await session.flush()
    return len(acted)


async def rescan(db: Database, now: datetime) -> int:
    """Work out the next automation time of a batch of open tickets of a workspace whose automations
    changed; returns how many tickets were looked at."""
    async with db.sessionmaker() as session, session.begin():
        claimed = select(AutomationRescan).limit(1).with_for_update(skip_locked=True)
        rescan = await session.scalar(claimed)
        if rescan is None:
            return 0
        workspace_id = rescan.workspace_id
        batch = (
            select(Ticket)
            .where(
                Ticket.workspace_id == workspace_id,
                Ticket.status_kind != StatusKind.closed,
                Ticket.deleted_at.is_(None),
            )
            .order_by(Ticket.id)
            .limit(BATCH)
            .with_for_update()
        )
        if rescan.after_ticket_id is not None:
            batch = batch.where(Ticket.id > rescan.after_ticket_id)
        tickets = list((await session.execute(batch)).scalars())
        rules = await rules_of(session, workspace_id)
        for ticket in tickets:
            current = columns_of(ticket)
            schedule = await schedule_of(session, workspace_id, rules, current, now)
            for name, value in changed_schedule(current, schedule).items():
                setattr(ticket, name, value)
        if len(tickets) < BATCH:
            await session.delete(rescan)
        else:
            rescan.after_ticket_id = tickets[-1].id
        await session.flush()
    return max(len(tickets), 1)
