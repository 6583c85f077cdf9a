"""Holding the database's locks from outside the app, to stop a request at a known point."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy.engine import make_url


def plain_url(url: str) -> str:
    """The URL as asyncpg itself takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def holding_workspace_row(database_url: str, workspace_id: UUID) -> AsyncIterator[asyncpg.Connection]:
    """A connection whose transaction holds the workspace's row FOR UPDATE until the block ends: every
    row a request inserts for the workspace checks its foreign key with FOR KEY SHARE, which waits on
    it, so a ticket creation stops in the middle of its transaction (reads go on)."""
    connection = await asyncpg.connect(plain_url(database_url))
    try:
        async with connection.transaction():
            await connection.execute("SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE", workspace_id)
            yield connection
    finally:
        await connection.close()


async def activity(connection: asyncpg.Connection, query: str, *arguments: Any) -> Any:
    """A value of pg_stat_activity as it is now (a transaction otherwise sees it as it first read it)."""
    await connection.execute("SELECT pg_stat_clear_snapshot()")
    return await connection.fetchval(query, *arguments)


async def wait_for_lock_waiter(connection: asyncpg.Connection) -> int:
    """The pid of a backend waiting on a lock in this database (there is one by the test's design)."""
    for _ in range(500):
        pid = await activity(
            connection,
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        if pid is not None:
            return pid
        await asyncio.sleep(0.02)
    raise AssertionError("no request came to wait on the lock")


async def wait_until_gone(connection: asyncpg.Connection, pid: int) -> None:
    for _ in range(200):
        if not await activity(connection, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"backend {pid} is still there")
