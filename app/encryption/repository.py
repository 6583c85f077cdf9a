"""The columns that hold secrets encrypted with HELPDESK_SECRET_KEY, read and rewritten a batch at a time."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Row, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.models import AgentTokenSecret, MessagingChannel, Webhook

# Every encrypted column of the schema (tests/test_secret_key.py checks that none is missing).
ENCRYPTED_COLUMNS: tuple[InstrumentedAttribute[Any], ...] = (
    AgentTokenSecret.secret_encrypted,
    MessagingChannel.secrets_encrypted,
    Webhook.secret_encrypted,
    Webhook.previous_secret_encrypted,
)

Key = tuple[UUID, UUID]


def column_name(column: InstrumentedAttribute[Any]) -> str:
    """`table.column`, as reports name it."""
    return f"{column.class_.__tablename__}.{column.key}"


async def lock_batch(
    session: AsyncSession, column: InstrumentedAttribute[Any], after: Key | None, limit: int
) -> Sequence[Row[Any]]:
    """The next `limit` rows with a value in `column`, in key order after `after`, locked until the
    transaction ends: a change made meanwhile waits for the batch, and one made before is what is read.
    FOR NO KEY UPDATE, the lock an UPDATE of the row takes, lets rows that refer to these be inserted."""
    model = column.class_
    statement = select(model.workspace_id, model.id, column.label("value")).where(column.is_not(None))
    if after is not None:
        statement = statement.where(tuple_(model.workspace_id, model.id) > after)
    statement = statement.order_by(model.workspace_id, model.id).limit(limit)
    return (await session.execute(statement.with_for_update(key_share=True))).all()


async def replace_values(
    session: AsyncSession, column: InstrumentedAttribute[Any], values: dict[Key, bytes]
) -> None:
    """Write the new value of `column` of each row, by key; nothing else of the rows changes (neither
    `version` nor `updated_at`: the secret is the same)."""
    if values:
        model = column.class_
        rows = [{"workspace_id": key[0], "id": key[1], column.key: value} for key, value in values.items()]
        await session.execute(update(model), rows)
