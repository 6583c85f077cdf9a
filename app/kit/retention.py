"""Deleting what has outlived its retention: a batch of rows per transaction, picked by their physical
address, so that no purge holds a long transaction or locks more than a batch at a time."""

from typing import Any

from sqlalchemy import Table, delete, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

BATCH = 5_000
_ROW = literal_column("ctid")


async def delete_batch(
    sessionmaker: async_sessionmaker[AsyncSession], table: Table, condition: Any, batch: int = BATCH
) -> int:
    """Delete up to `batch` rows of `table` matching `condition`, in a transaction of its own; how many."""
    rows = select(_ROW).select_from(table).where(condition).limit(batch)
    async with sessionmaker() as session, session.begin():
        result = await session.execute(delete(table).where(_ROW.in_(rows)))
    return result.rowcount
