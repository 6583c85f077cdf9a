"""Wake-ups are sent after the commit of what they announce: never for a transaction rolled back, never
for a savepoint before its transaction commits, and for a ticket made through the API."""

import asyncio
from collections.abc import AsyncIterator
from secrets import token_hex

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.db import Database
from app.kit.wakeups import EVENTS_CHANNEL, wake_after_commit
from tests.conftest import Tenant
from tests.factories import create_ticket


class Heard:
    """What a LISTEN connection heard, in the order PostgreSQL delivered it (the order of the commits)."""

    def __init__(self) -> None:
        self.channels: list[str] = []
        self.changed = asyncio.Event()

    def __call__(self, _connection: object, _pid: int, channel: str, _payload: str) -> None:
        self.channels.append(channel)
        self.changed.set()

    async def until(self, channel: str) -> list[str]:
        """Everything heard up to and including `channel`'s first notification."""
        async with asyncio.timeout(10):
            while channel not in self.channels:
                self.changed.clear()
                await self.changed.wait()
        return self.channels[: self.channels.index(channel) + 1]


@pytest.fixture
async def listening(database_url: str) -> AsyncIterator[tuple[Heard, str, str]]:
    """A listener on two new channels: one the test wakes, and a marker it sends itself."""
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(url)
    heard = Heard()
    woken, marker = f"test_woken_{token_hex(4)}", f"test_marker_{token_hex(4)}"
    for channel in (woken, marker, EVENTS_CHANNEL):
        await connection.add_listener(channel, heard)
    yield heard, woken, marker
    await connection.close()


async def mark(db: Database, marker: str) -> None:
    async with db.sessionmaker() as session, session.begin():
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": marker})


async def test_a_wake_up_is_sent_after_the_commit_and_not_after_a_rollback(
    db: Database, listening: tuple[Heard, str, str]
) -> None:
    heard, woken, marker = listening
    async with db.sessionmaker() as session:
        await session.begin()
        wake_after_commit(session, woken)
        await session.execute(text("SELECT 1"))
        await session.rollback()
        # The session's next transaction, which asks for nothing, commits nothing of the one before.
        async with session.begin():
            await session.execute(text("SELECT 1"))
    await db.wakeups.flush()
    await mark(db, marker)
    assert await heard.until(marker) == [marker]
    async with db.sessionmaker() as session, session.begin():
        wake_after_commit(session, woken)
        wake_after_commit(session, woken)
        await session.execute(text("SELECT 1"))
    await db.wakeups.flush()
    assert await heard.until(woken) == [marker, woken]


async def test_a_savepoint_commit_waits_for_its_transaction(
    db: Database, listening: tuple[Heard, str, str]
) -> None:
    heard, woken, marker = listening
    async with db.sessionmaker() as session, session.begin():
        async with session.begin_nested():
            wake_after_commit(session, woken)
            await session.execute(text("SELECT 1"))
        await db.wakeups.flush()
        await mark(db, marker)
        assert await heard.until(marker) == [marker]
        # A savepoint rolled back keeps what was asked before it.
        savepoint = await session.begin_nested()
        await savepoint.rollback()
    await db.wakeups.flush()
    assert await heard.until(woken) == [marker, woken]


async def test_a_ticket_made_through_the_api_wakes_the_event_listeners(
    tenant: Tenant, listening: tuple[Heard, str, str]
) -> None:
    heard, _, _ = listening
    await create_ticket(tenant.agent, subject="Đơn hàng chưa giao")
    assert EVENTS_CHANNEL in await heard.until(EVENTS_CHANNEL)
