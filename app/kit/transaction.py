"""What a session keeps for the length of one transaction, and forgets when it ends."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

_KEY = "this_transaction"


def transaction_info(session: AsyncSession | Session) -> dict[str, Any]:
    return session.info.setdefault(_KEY, {})


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_KEY, None)
