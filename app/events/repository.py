from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Text, func, insert, tuple_

from app.kit.repository import ScopedRepository
from app.models import Event

# Transactions older than this are over: whatever they wrote is visible now or never will be.
_OLDEST_RUNNING_TRANSACTION = func.pg_snapshot_xmin(func.pg_current_snapshot()).cast(Text).cast(BigInteger)


class EventRepository(ScopedRepository[Event]):
    model = Event
    resource = "Event"

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(
                insert(Event.__table__), [{**row, "workspace_id": self.workspace_id} for row in rows]
            )

    async def feed(self, after: tuple[int, UUID] | None, types: Sequence[str], limit: int) -> list[Event]:
        """Events in commit-safe order: by writing transaction, then id, held back while older
        transactions run, so that a page boundary is never passed by an event committed later."""
        statement = self.select().where(Event.transaction_id < _OLDEST_RUNNING_TRANSACTION)
        if after is not None:
            statement = statement.where(tuple_(Event.transaction_id, Event.id) > tuple_(*after))
        if types:
            statement = statement.where(Event.type.in_(types))
        statement = statement.order_by(Event.transaction_id, Event.id).limit(limit)
        return list((await self.session.execute(statement)).scalars())
