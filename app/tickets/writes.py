"""Ticket changes held back within a trigger pass and written together at its end.

A pass of triggers makes several changes to one ticket, each with its history and its events. Held
here, they are written in one statement (the ticket's update, with its history and its events
inserted alongside), however many triggers changed it. The ticket object carries the changes at
once, so that what runs next sees them; its `version` and `updated_at` move as each change would
have moved them.

Whatever reads the ticket's row again or may roll back part of the transaction (a savepoint) writes
what is held first (`write_held`).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.principal import Principal
from app.kit.time import utcnow
from app.models import Ticket
from app.outbox import record, record_in
from app.tickets.repository import TicketRepository

_HELD = "held_ticket_writes"


class HeldWrites:
    def __init__(self, workspace_id: UUID) -> None:
        self.workspace_id = workspace_id
        self.columns: dict[UUID, dict[str, Any]] = {}
        self.history: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def change(self, ticket: Ticket, changed: dict[str, Any], history: list[dict[str, Any]]) -> None:
        """Hold the change with its history, and carry it on the ticket."""
        values = {**changed, "version": ticket.version + 1, "updated_at": utcnow()}
        for name, value in values.items():
            set_committed_value(ticket, name, value)
        self.columns.setdefault(ticket.id, {}).update(values)
        self.history += history

    def add_events(self, rows: list[dict[str, Any]]) -> None:
        self.events += rows

    async def write(self, session: AsyncSession) -> None:
        tickets = TicketRepository(session, self.workspace_id)
        if not self.columns:
            await tickets.add_history(self.history)
            await record_in(session, self.workspace_id, self.events)
        # The history and the events go with the first ticket's update; a pass changes one ticket.
        history, events = self.history, self.events
        for ticket_id, values in self.columns.items():
            await tickets.write_held(ticket_id, values, history, events)
            history, events = [], []
        self.columns, self.history, self.events = {}, [], []


def held_writes(session: AsyncSession) -> HeldWrites | None:
    return session.info.get(_HELD)


async def record_events(session: AsyncSession, principal: Principal, rows: list[dict[str, Any]]) -> None:
    """Write the events now, or with the changes held back, if they are."""
    held = held_writes(session)
    if held is None:
        await record(session, principal, rows)
    else:
        held.add_events(rows)


@asynccontextmanager
async def holding_writes(session: AsyncSession, workspace_id: UUID) -> AsyncIterator[None]:
    """Hold ticket changes made in the block, and write them when it ends; within a block that already
    holds them, the outer block writes."""
    if _HELD in session.info:
        yield
        return
    held = session.info[_HELD] = HeldWrites(workspace_id)
    try:
        yield
        await held.write(session)
    finally:
        del session.info[_HELD]


async def write_held(session: AsyncSession) -> None:
    held = held_writes(session)
    if held is not None:
        await held.write(session)


def discard_held(session: AsyncSession) -> None:
    """Forget what is held: the savepoint it was made in was rolled back."""
    held = held_writes(session)
    if held is not None:
        held.columns, held.history, held.events = {}, [], []
