"""Wakes the live streams of one API process when events are written, whichever process wrote them."""

import asyncio
import contextlib
import logging

import asyncpg
from sqlalchemy.engine import make_url

from app.kit.wakeups import EVENTS_CHANNEL

logger = logging.getLogger(__name__)


class EventNotifier:
    """One LISTEN connection per process, shared by every stream; streams poll besides. It connects to
    `listen_url`, PostgreSQL itself: LISTEN does not survive a transaction-pooling PgBouncer."""

    def __init__(self, listen_url: str) -> None:
        self._url = make_url(listen_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._connection: asyncpg.Connection | None = None
        self._starting = asyncio.Lock()
        self._changed = asyncio.Event()
        # Set when the process stops: streams end their responses, and clients resume elsewhere.
        self.ending = False

    async def wait(self, seconds: float) -> None:
        """Return when events were written or streams must end, or after `seconds` at the latest."""
        await self._ensure_listening()
        if self.ending:
            return
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), seconds)

    def end_streams(self) -> None:
        """Wake every stream for it to end: the process is stopping, and the server waits for them."""
        self.ending = True
        self._notified()

    def _notified(self, *_: object) -> None:
        # Wake every waiter at once, then let the next wait start afresh.
        self._changed.set()
        self._changed = asyncio.Event()

    async def _ensure_listening(self) -> None:
        if self._connection is not None and not self._connection.is_closed():
            return
        async with self._starting:
            if self._connection is not None and not self._connection.is_closed():
                return
            try:
                self._connection = await asyncpg.connect(self._url)
                await self._connection.add_listener(EVENTS_CHANNEL, self._notified)
            except Exception as error:
                # The database is unreachable or restarting: streams poll until it is back.
                self._connection = None
                logger.warning("listening for events failed, streams poll meanwhile: %r", error)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
