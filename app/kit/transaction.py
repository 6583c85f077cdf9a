"""What a session keeps for the length of one transaction, and forgets when it ends."""

from collections.abc import Hashable, Iterable
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


# name -> key -> the (sub)transaction it was remembered in.
_REMEMBERED = "remembered_in_transaction"


def remembered(session: AsyncSession | Session, name: str, key: Hashable) -> bool:
    """Whether `key` was remembered under `name` in this transaction, by a savepoint that did not roll
    back."""
    return key in transaction_info(session).get(_REMEMBERED, {}).get(name, {})


def remember(session: AsyncSession | Session, name: str, keys: Iterable[Hashable]) -> None:
    """Remember `keys` under `name` until the transaction ends; a savepoint (or one of the savepoints
    around it) that rolls back forgets them with the rows it undid."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    current = sync.get_nested_transaction() or sync.get_transaction()
    found = transaction_info(session).setdefault(_REMEMBERED, {}).setdefault(name, {})
    for key in keys:
        found.setdefault(key, current)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, rolled_back: SessionTransaction) -> None:
    if not rolled_back.nested:
        return
    for found in session.info.get(_KEY, {}).get(_REMEMBERED, {}).values():
        for key in [key for key, transaction in found.items() if _within(transaction, rolled_back)]:
            del found[key]


def _within(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False
