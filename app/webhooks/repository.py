from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Row, Select, Text, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import Keyset, PageParams, SortColumn
from app.kit.repository import ScopedRepository
from app.models import DispatchCursor, Event, Webhook, WebhookAttempt, WebhookDelivery
from app.models.enums import DeliveryStatus

BY_CREATION = Keyset("created_at", [SortColumn(Webhook.created_at), SortColumn(Webhook.id)])
NEWEST_DELIVERIES = Keyset("-id", [SortColumn(WebhookDelivery.id, descending=True)])


class WebhookRepository(ScopedRepository[Webhook]):
    model = Webhook
    resource = "Webhook"


class DeliveryRepository(ScopedRepository[WebhookDelivery]):
    model = WebhookDelivery
    resource = "Delivery"

    async def of_webhook(
        self, webhook_id: UUID, delivery_id: UUID, *, for_update: bool = False
    ) -> WebhookDelivery | None:
        statement = self.select().where(
            WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.id == delivery_id
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(self, webhook_id: UUID, page: PageParams) -> tuple[list[WebhookDelivery], str | None]:
        statement = self.select().where(WebhookDelivery.webhook_id == webhook_id)
        return await self.paginate(statement, NEWEST_DELIVERIES, page)

    async def event_types(self, event_ids: Sequence[UUID | None]) -> dict[UUID, str]:
        event_ids = [event_id for event_id in event_ids if event_id is not None]
        if not event_ids:
            return {}
        statement = select(Event.id, Event.type).where(
            Event.workspace_id == self.workspace_id, Event.id.in_(event_ids)
        )
        return {
            event_id: event_type for event_id, event_type in (await self.session.execute(statement)).all()
        }

    async def attempts_of(self, delivery_ids: Sequence[UUID]) -> list[WebhookAttempt]:
        if not delivery_ids:
            return []
        statement = (
            select(WebhookAttempt)
            .where(
                WebhookAttempt.workspace_id == self.workspace_id, WebhookAttempt.delivery_id.in_(delivery_ids)
            )
            .order_by(WebhookAttempt.attempted_at)
        )
        return list((await self.session.execute(statement)).scalars())


# The worker's queries below serve every workspace at once: they take keys, not a workspace's scope.
_D = WebhookDelivery.__table__.c
# Events are fanned out only past every running transaction, as the change feed serves them.
_OLDEST_RUNNING_TRANSACTION = func.pg_snapshot_xmin(func.pg_current_snapshot()).cast(Text).cast(BigInteger)
# Due deliveries looked at per claim, oldest first.
CLAIM_SCAN = 2_000

Key = tuple[UUID, UUID]


async def lock_dispatch_cursor(session: AsyncSession) -> DispatchCursor | None:
    """The fan-out's cursor, unless another worker holds it."""
    statement = select(DispatchCursor).where(DispatchCursor.id == 1).with_for_update(skip_locked=True)
    return (await session.execute(statement)).scalar_one_or_none()


async def events_after(session: AsyncSession, cursor: DispatchCursor, limit: int) -> Sequence[Row[Any]]:
    """The next committed events past the cursor, in commit order."""
    # Columns, not entities: a batch is hundreds of events and only these are needed.
    statement = select(Event.workspace_id, Event.id, Event.type, Event.transaction_id).where(
        Event.transaction_id < _OLDEST_RUNNING_TRANSACTION
    )
    statement = _past(statement, cursor.transaction_id, cursor.event_id)
    return (await session.execute(statement.order_by(Event.transaction_id, Event.id).limit(limit))).all()


def _past(statement: Select[Any], transaction_id: int, event_id: UUID | None) -> Select[Any]:
    """`statement`'s events past the fan-out's cursor (all of them before the first fan-out)."""
    if event_id is None:
        return statement
    return statement.where(tuple_(Event.transaction_id, Event.id) > (transaction_id, event_id))


async def next_event_to_dispatch(session: AsyncSession) -> datetime | None:
    """When the next event to fan out happened (None when all are): the first past the cursor, read
    without waiting for the worker holding the cursor, through the index the fan-out walks."""
    cursor = (
        await session.execute(
            select(DispatchCursor.transaction_id, DispatchCursor.event_id).where(DispatchCursor.id == 1)
        )
    ).one_or_none()
    statement = select(Event.occurred_at)
    if cursor is not None:
        statement = _past(statement, *cursor)
    statement = statement.order_by(Event.transaction_id, Event.id).limit(1)
    return (await session.execute(statement)).scalar_one_or_none()


async def most_overdue_delivery(session: AsyncSession, now: datetime) -> datetime | None:
    """When the pending delivery that has waited longest since it fell due was due (None when none is
    due): the first entry of the index workers claim by."""
    statement = select(func.min(_D.next_attempt_at)).where(
        _D.status == DeliveryStatus.pending, _D.next_attempt_at <= now
    )
    return (await session.execute(statement)).scalar_one()


async def active_webhooks(session: AsyncSession, workspaces: set[UUID]) -> list[Webhook]:
    statement = select(Webhook).where(Webhook.workspace_id.in_(workspaces), Webhook.active)
    return list((await session.execute(statement)).scalars())


async def add_deliveries(session: AsyncSession, deliveries: list[dict[str, Any]]) -> None:
    # Parameters apart from the statement, so that its compiled form is reused.
    await session.execute(pg_insert(WebhookDelivery.__table__).on_conflict_do_nothing(), deliveries)


async def lock_due_deliveries(
    session: AsyncSession, now: datetime, *, limit: int, per_endpoint: int
) -> Sequence[Row[Any]]:
    """Up to `limit` due deliveries nobody holds, oldest first and at most `per_endpoint` per
    endpoint, locked (others skip them) until the transaction ends."""
    claimable = (
        _D.status == DeliveryStatus.pending,
        _D.next_attempt_at <= now,
        or_(_D.locked_until.is_(None), _D.locked_until < now),
    )
    due = (
        select(
            _D.workspace_id,
            _D.id,
            func.row_number().over(partition_by=_D.webhook_id, order_by=_D.next_attempt_at).label("rank"),
        )
        .where(*claimable)
        .order_by(_D.next_attempt_at)
        .limit(CLAIM_SCAN)
        .subquery()
    )
    # The conditions again on the locked table: a row another worker leased after this statement's
    # snapshot is re-checked (in its new version) against these only, never against the subquery's.
    candidates = (
        select(_D.workspace_id, _D.id, _D.webhook_id, _D.event_id, _D.body, _D.attempts)
        .join(due, (_D.workspace_id == due.c.workspace_id) & (_D.id == due.c.id))
        .where(due.c.rank <= per_endpoint, *claimable)
        .order_by(due.c.rank)
        .limit(limit)
        .with_for_update(of=WebhookDelivery.__table__, skip_locked=True)
    )
    return (await session.execute(candidates)).all()


async def lease_deliveries(session: AsyncSession, keys: list[Key], until: datetime) -> None:
    await session.execute(
        update(WebhookDelivery.__table__)
        .where(tuple_(_D.workspace_id, _D.id).in_(keys))
        .values(locked_until=until)
    )


async def release_deliveries(session: AsyncSession, keys: list[Key]) -> None:
    """End the leases of the deliveries still pending, so that any worker may take them at once."""
    await session.execute(
        update(WebhookDelivery)
        .where(
            tuple_(WebhookDelivery.workspace_id, WebhookDelivery.id).in_(keys),
            WebhookDelivery.status == DeliveryStatus.pending,
        )
        .values(locked_until=None)
    )


async def rows_by_key(session: AsyncSession, model: Any, keys: set[Key]) -> dict[Key, Any]:
    """Rows of `model` by (workspace_id, id), read in one query, as plain rows."""
    table = model.__table__
    statement = select(table).where(tuple_(table.c.workspace_id, table.c.id).in_(keys))
    return {(row.workspace_id, row.id): row for row in (await session.execute(statement)).all()}


async def mark_succeeded(session: AsyncSession, keys: list[Key], now: datetime) -> set[UUID]:
    """The deliveries done; the ids of those that still exist (an endpoint deleted meanwhile took its own)."""
    updated = await session.execute(
        update(WebhookDelivery.__table__)
        .where(tuple_(_D.workspace_id, _D.id).in_(keys))
        .values(
            status=DeliveryStatus.succeeded,
            attempts=_D.attempts + 1,
            completed_at=now,
            next_attempt_at=None,
            locked_until=None,
        )
        .returning(_D.id)
    )
    return set(updated.scalars())


async def add_attempts(session: AsyncSession, attempts: list[dict[str, Any]]) -> None:
    await session.execute(insert(WebhookAttempt.__table__), attempts)


async def end_failing_runs(session: AsyncSession, webhooks: set[Key]) -> None:
    # Only an endpoint that was failing changes (and is locked).
    await session.execute(
        update(Webhook.__table__)
        .where(tuple_(Webhook.workspace_id, Webhook.id).in_(webhooks), Webhook.failing_since.is_not(None))
        .values(failing_since=None)
    )


async def fail_pending_deliveries(session: AsyncSession, webhook: Webhook) -> None:
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.workspace_id == webhook.workspace_id,
            WebhookDelivery.webhook_id == webhook.id,
            WebhookDelivery.status == DeliveryStatus.pending,
        )
        .values(status=DeliveryStatus.failed, next_attempt_at=None, locked_until=None)
    )
