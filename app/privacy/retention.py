"""Retention per workspace, applied by a worker: raw inbound messages deleted after
`inbound_retention_days`, closed tickets anonymised `closed_ticket_anonymize_months` after closing.

Each batch is a transaction of its own. An anonymised ticket keeps what reports count (status, channel,
group, times, metrics) and loses its texts: subject and description, its comments' bodies (call records
and threading too), its files (bytes deleted before the rows, so that no file outlives its row, and a
crash in between leaves rows whose next run deletes the already absent bytes again), the stored messages
it came from, and the old and new values of its subject and description in its history. A run that
did something is recorded as a `workspace.retention_applied` event of the workspace.
"""

import calendar
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.attachments.storage import Storage
from app.auth.principal import Principal
from app.db import Database
from app.kit.retention import delete_batch
from app.kit.search import search_key
from app.models import Attachment, Comment, InboundMessage, Ticket, TicketHistory, Workspace
from app.models.enums import ActorType, InboundState, Role, StatusKind
from app.outbox import EventType, event_row, record
from app.privacy.redaction import ERASED


async def apply_retention(db: Database, storage: Storage, now: datetime, batch: int) -> int:
    """Every workspace's retention, a batch per transaction; the rows deleted or anonymised."""
    async with db.sessionmaker() as session:
        statement = select(
            Workspace.id, Workspace.inbound_retention_days, Workspace.closed_ticket_anonymize_months
        ).where(
            (Workspace.inbound_retention_days.is_not(None))
            | (Workspace.closed_ticket_anonymize_months.is_not(None))
        )
        workspaces = list(await session.execute(statement))
    total = 0
    for workspace_id, days, months in workspaces:
        inbound_before = now - timedelta(days=days) if days is not None else None
        closed_before = months_before(now, months) if months is not None else None
        messages = await _delete_inbound(db, workspace_id, inbound_before, batch)
        tickets = await _anonymize_closed(db, storage, workspace_id, closed_before, now, batch)
        if messages or tickets:
            await _record(db, workspace_id, messages, tickets, inbound_before, closed_before)
        total += messages + tickets
    return total


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` earlier (the month's last day when it is shorter)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


async def _delete_inbound(db: Database, workspace_id: UUID, before: datetime | None, batch: int) -> int:
    if before is None:
        return 0
    # A message still waiting for a worker is kept: deleting it would lose the customer's message.
    old = and_(
        InboundMessage.workspace_id == workspace_id,
        InboundMessage.received_at < before,
        InboundMessage.state != InboundState.received,
    )
    deleted = 0
    while True:
        rows = await delete_batch(db.sessionmaker, InboundMessage.__table__, old, batch)
        deleted += rows
        if rows < batch:
            return deleted


async def _anonymize_closed(
    db: Database, storage: Storage, workspace_id: UUID, before: datetime | None, now: datetime, batch: int
) -> int:
    if before is None:
        return 0
    anonymized = 0
    while True:
        async with db.sessionmaker() as session, session.begin():
            ticket_ids = list(
                (
                    await session.execute(
                        select(Ticket.id)
                        .where(
                            Ticket.workspace_id == workspace_id,
                            Ticket.status_kind == StatusKind.closed,
                            Ticket.closed_at < before,
                            Ticket.anonymized_at.is_(None),
                        )
                        .order_by(Ticket.id)
                        .limit(batch)
                    )
                ).scalars()
            )
            keys = await _file_keys(session, workspace_id, ticket_ids)
        for key in keys:
            await storage.delete(key)
        async with db.sessionmaker() as session, session.begin():
            done = await _anonymize(session, workspace_id, ticket_ids, now)
        anonymized += done
        # A full batch that others' changes held entirely is left to the next run.
        if len(ticket_ids) < batch or done == 0:
            return anonymized


async def _file_keys(session: AsyncSession, workspace_id: UUID, ticket_ids: list[UUID]) -> list[str]:
    statement = select(Attachment.storage_key).where(
        Attachment.workspace_id == workspace_id, Attachment.ticket_id.in_(ticket_ids)
    )
    return list((await session.execute(statement)).scalars())


async def _anonymize(session: AsyncSession, workspace_id: UUID, ticket_ids: list[UUID], now: datetime) -> int:
    """The tickets not anonymised yet among `ticket_ids` (skipping any a change holds), anonymised."""
    locked = list(
        (
            await session.execute(
                select(Ticket.id)
                .where(
                    Ticket.workspace_id == workspace_id,
                    Ticket.id.in_(ticket_ids),
                    Ticket.anonymized_at.is_(None),
                )
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    if not locked:
        return 0
    await session.execute(
        delete(Attachment).where(Attachment.workspace_id == workspace_id, Attachment.ticket_id.in_(locked))
    )
    await session.execute(
        delete(InboundMessage).where(
            InboundMessage.workspace_id == workspace_id, InboundMessage.ticket_id.in_(locked)
        )
    )
    await session.execute(
        update(Comment)
        .where(Comment.workspace_id == workspace_id, Comment.ticket_id.in_(locked))
        .values(body=ERASED, html_body=None, search_text="", call=None, threading=None, delivery_error=None)
    )
    await session.execute(
        update(TicketHistory)
        .where(
            TicketHistory.workspace_id == workspace_id,
            TicketHistory.ticket_id.in_(locked),
            TicketHistory.field.in_(("subject", "description")),
        )
        .values(old_value=None, new_value=None)
    )
    await session.execute(
        update(Ticket)
        .where(Ticket.workspace_id == workspace_id, Ticket.id.in_(locked))
        .values(
            subject=ERASED,
            description=None,
            search_text=search_key(ERASED),
            anonymized_at=now,
            updated_at=now,
            version=Ticket.version + 1,
        )
    )
    return len(locked)


async def _record(
    db: Database,
    workspace_id: UUID,
    messages: int,
    tickets: int,
    inbound_before: datetime | None,
    closed_before: datetime | None,
) -> None:
    system = Principal(workspace_id, Role.admin, ActorType.system, workspace_id)
    data = {
        "retention": {
            "inbound_messages_deleted": messages,
            "tickets_anonymized": tickets,
            "inbound_received_before": inbound_before.isoformat() if inbound_before else None,
            "tickets_closed_before": closed_before.isoformat() if closed_before else None,
        }
    }
    async with db.sessionmaker() as session, session.begin():
        await record(
            session, system, [event_row(system, EventType.workspace_retention_applied, workspace_id, data)]
        )
