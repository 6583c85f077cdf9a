"""Whether a process can do its work: alive, and ready (its database reachable, and migrated)."""

import asyncio
import functools

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import MIGRATIONS

# The longest a readiness check waits for the database: a load balancer's probe must not hang.
READY_DEADLINE_SECONDS = 2.0


@functools.cache
def migrations_head() -> str:
    """The newest migration this version of the service has (read once; alembic is loaded only here)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    if head is None:
        raise RuntimeError("the service has no migrations")
    return head


async def unready_reason(session: AsyncSession) -> str | None:
    """Why the process cannot serve yet; None when it can."""
    try:
        async with asyncio.timeout(READY_DEADLINE_SECONDS):
            applied = (await session.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    except TimeoutError:
        return f"the database did not answer within {READY_DEADLINE_SECONDS:g} s"
    head = await asyncio.to_thread(migrations_head)
    if head not in applied:
        return (
            f"the database is at migration {', '.join(applied) or 'none'}, not at this version's newest, "
            f"{head}: run `helpdesk migrate`"
        )
    return None
