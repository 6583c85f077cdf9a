"""Wake-ups of what LISTENs (the workers, the event streams), sent once the change they announce is
committed.

A NOTIFY made inside a transaction has PostgreSQL take its notification queue's lock, one for the
whole server, at commit, and hold it through the commit's WAL flush: every transaction that notifies
commits after the one before it (ticket creations in plain statements ran 35 % faster without). So a
writing transaction only notes which channels to wake (`wake_after_commit`); once it has committed, the
process's `Wakeups` sends them, one statement at a time, and the channels asked for while one is sent
go together in the next. A wake-up that is lost (the process ends between the commit and the send, or
the send fails) delays the work by a poll at most: listeners poll besides.
"""

import asyncio
import logging
from collections.abc import Iterable

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

logger = logging.getLogger(__name__)

EVENTS_CHANNEL = "helpdesk_events"
# Keys of Session.info: the channels a transaction asked to wake, and the process's sender (put in
# every session's info by the sessionmaker).
_PENDING = "helpdesk_wake_after_commit"
WAKEUPS = "helpdesk_wakeups"


class Wakeups:
    """Sends the wake-ups of the process's committed transactions, one NOTIFY statement at a time."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._pending: set[str] = set()
        self._sending: asyncio.Task[None] | None = None

    def send(self, channels: Iterable[str]) -> None:
        self._pending.update(channels)
        if self._sending is None or self._sending.done():
            self._sending = asyncio.get_running_loop().create_task(self._send_pending())

    async def flush(self) -> None:
        """Wait until every wake-up asked for is sent."""
        if self._sending is not None:
            await self._sending

    async def _send_pending(self) -> None:
        while self._pending:
            channels, self._pending = sorted(self._pending), set()
            try:
                async with self.engine.connect() as connection:
                    await connection.execute(select(*(func.pg_notify(channel, "") for channel in channels)))
                    await connection.commit()
            except Exception as error:  # the listeners poll besides: the work is found all the same
                logger.warning("could not wake %s: %s", ", ".join(channels), type(error).__name__)


def wake_after_commit(session: AsyncSession, channel: str) -> None:
    """Wake `channel`'s listeners once the session's transaction commits (not if it rolls back)."""
    session.info.setdefault(_PENDING, set()).add(channel)


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    # A savepoint's commit is not the transaction's: what it wrote is not visible yet.
    if session.in_nested_transaction():
        return
    channels = session.info.pop(_PENDING, None)
    wakeups = session.info.get(WAKEUPS)
    if channels and wakeups is not None:
        wakeups.send(channels)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    # A savepoint's rollback leaves what the transaction asked before it: a wake-up too many is harmless.
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
