import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import get_settings
from app.db import direct_database_url, resolve_database_url
from app.models import Base

config = context.config
target_metadata = Base.metadata
# No revision may wait long for a lock held by live traffic; it fails and can be retried instead.
LOCK_TIMEOUT = "5s"


def _database_url() -> str:
    if url := config.attributes.get("database_url"):
        return url
    # PostgreSQL itself: a revision's session (its lock_timeout, its DDL) must not go through a pooler.
    settings = get_settings()
    return direct_database_url(settings, resolve_database_url(settings))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        transaction_per_migration=True,
    )
    connection.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_database_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `helpdesk migrate`")
run_migrations_online()
