"""The workers' SLA scan: warnings and breaches announced once per metric cycle, soon after they fall due.

The scan reads the index of upcoming moments (`next_check_at`), not the tickets. A ticket is locked
before its clocks, as every ticket change does, and one that another transaction holds is left for
the next scan; the announcement, the clock and the ticket commit together, so an event is written
exactly once even with several workers, and a worker that dies mid-batch leaves the batch to the next.
The triggers listening to the announcements run in the same transaction.
"""

import logging
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.config import Settings
from app.db import Database
from app.kit import metrics
from app.models import Ticket, TicketSla
from app.models.enums import ActorType, Role
from app.outbox import EventType, event_row, record
from app.sla.repository import clocks_of, due_tickets, lock_tickets
from app.sla.service import SlaService, summary
from app.tickets.events import ticket_json
from app.tickets.service import TicketService

logger = logging.getLogger(__name__)

BATCH = 200
# The announcement label of the SLA metrics.
_ANNOUNCEMENTS = {EventType.ticket_sla_warning: "warning", EventType.ticket_sla_breached: "breach"}


async def announce_due(db: Database, settings: Settings, now: datetime) -> int:
    """Announce what has fallen due by `now`; returns how many events were written."""
    written = 0
    while True:
        announced: list[tuple[EventType, TicketSla]] = []
        async with db.sessionmaker() as session, session.begin():
            keys = list(dict.fromkeys(tuple(row) for row in await session.execute(due_tickets(now, BATCH))))
            if not keys:
                return written
            tickets = list((await session.execute(lock_tickets(keys))).scalars())
            if not tickets:
                return written  # all held by others; they will be looked at again
            locked = [(ticket.workspace_id, ticket.id) for ticket in tickets]
            clocks: dict[tuple[UUID, UUID], list[TicketSla]] = {}
            for found in (await session.execute(clocks_of(locked).with_for_update())).scalars():
                clocks.setdefault((found.workspace_id, found.ticket_id), []).append(found)
            for ticket in tickets:
                announced += await _announce(
                    session, settings, ticket, clocks.get((ticket.workspace_id, ticket.id), []), now
                )
        written += len(announced)
        for event_type, clock in announced:  # counted once committed
            metrics.SLA_ANNOUNCEMENTS.labels(_ANNOUNCEMENTS[event_type], clock.metric.value).inc()
        if len(keys) < BATCH:
            return written


async def _announce(
    session: AsyncSession, settings: Settings, ticket: Ticket, clocks: list[TicketSla], now: datetime
) -> list[tuple[EventType, TicketSla]]:
    """What was announced of the ticket's clocks (each written as an event)."""
    sla = SlaService(session, ticket.workspace_id)
    announcements: list[tuple[EventType, TicketSla]] = []
    for clock in clocks:
        if clock.next_check_at is None or clock.next_check_at > now:
            continue
        overdue = clock.due_at is not None and clock.due_at <= now
        if clock.warn_at is not None and clock.warned_at is None and clock.warn_at <= now:
            clock.warned_at = clock.warn_at
            if not overdue:  # a breach says more than a late warning
                announcements.append((EventType.ticket_sla_warning, clock))
        if overdue and clock.breached_at is None:
            clock.breached_at = clock.due_at
            clock.cycles_breached += 1
            announcements.append((EventType.ticket_sla_breached, clock))
        upcoming = [
            moment
            for moment, announced in ((clock.warn_at, clock.warned_at), (clock.due_at, clock.breached_at))
            if moment is not None and announced is None
        ]
        clock.next_check_at = min(upcoming, default=None)
    columns = summary(clocks)
    if any(getattr(ticket, name) != value for name, value in columns.items()):
        for name, value in columns.items():
            setattr(ticket, name, value)
        ticket.version += 1
    await session.flush()
    if not announcements:
        return []
    snapshot = ticket_json(ticket)
    rows = []
    for event_type, clock in announcements:
        system = Principal(ticket.workspace_id, Role.admin, ActorType.system, clock.policy_id)
        described = await sla.describe_clock(clock, now)
        data = {"ticket": snapshot, "sla": described.model_dump(mode="json")}
        rows.append(event_row(system, event_type, ticket.id, data))
    announcer = Principal(ticket.workspace_id, Role.admin, ActorType.system, ticket.id)
    await record(session, announcer, rows)
    service = TicketService(session, announcer, settings)
    for event_type, clock in announcements:
        ticket = await service.pipeline.after(service, event_type, ticket, {}, sla_metric=clock.metric)
    return announcements
