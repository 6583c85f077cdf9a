"""Engine, sessions and migrations."""

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.config import Settings
from app.embedded import asyncpg_url, start_embedded_postgres
from app.errors import DatabaseUnavailable, connection_lost
from app.kit.tracing import trace_statements
from app.kit.wakeups import WAKEUPS, Wakeups

logger = logging.getLogger(__name__)

# The alembic history, shipped inside the package (package data, not an importable package).
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Set by the process that started the embedded server, for the processes it spawns (uvicorn workers).
EMBEDDED_URL_ENV = "HELPDESK_EMBEDDED_DATABASE_URL"


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise the embedded server under the data directory."""
    if settings.database_url:
        return asyncpg_url(settings.database_url)
    if url := os.environ.get(EMBEDDED_URL_ENV):
        return url
    url = start_embedded_postgres(settings.data_dir)
    os.environ[EMBEDDED_URL_ENV] = url
    return url


def direct_database_url(settings: Settings, url: str) -> str:
    """Where LISTEN connections and migrations go: HELPDESK_DATABASE_DIRECT_URL when set (DATABASE_URL is
    then a pooler), otherwise `url`, the database the service uses."""
    if settings.database_direct_url:
        return asyncpg_url(settings.database_direct_url)
    return url


@dataclass
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    wakeups: Wakeups

    async def dispose(self) -> None:
        await self.wakeups.flush()
        await self.engine.dispose()


def create_database(url: str, settings: Settings) -> Database:
    parsed = make_url(url)
    _, connect_args = parsed.get_dialect()().create_connect_args(parsed)
    behind_pgbouncer = settings.db.pooler == "pgbouncer_transaction"
    # What PgBouncer keeps track of itself and sets on whichever server connection runs a transaction.
    server_settings = {"application_name": "helpdesk", "timezone": "UTC"}
    if not behind_pgbouncer:
        # PgBouncer 1.18 (Debian 12's) refuses any other setting in the startup packet, and would not
        # carry it to the server connections it shares: behind it they are set for the role (README).
        server_settings |= {
            "statement_timeout": str(settings.db.statement_timeout_ms),
            # A backend whose client died mid-statement gives up within a second, and with it the
            # locks it held (an Idempotency-Key's among them), instead of when its statement ends.
            "client_connection_check_interval": "1000",
        }
    # Behind PgBouncer's transaction pooling a prepared statement must not outlive its transaction (the
    # next one runs on another server connection, and other clients' statements run on this one): no
    # statement cache, neither asyncpg's (which names its statements) nor SQLAlchemy's, so that every
    # statement is PostgreSQL's unnamed one, prepared and run in the same transaction. PgBouncer 1.18,
    # Debian 12's, does not track named prepared statements (1.21's max_prepared_statements does).
    statement_caches = {"statement_cache_size": 0} if behind_pgbouncer else {}
    adapter_options = {"prepared_statement_cache_size": 0} if behind_pgbouncer else {}

    async def connect() -> asyncpg.Connection:
        """A new connection; failing to get one is DatabaseUnavailable, whatever the cause."""
        try:
            return await asyncpg.connect(
                **connect_args,
                **statement_caches,
                timeout=settings.db.pool_timeout_seconds,
                server_settings=server_settings,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise DatabaseUnavailable(f"cannot connect to the database: {type(error).__name__}") from error

    def adapted_connection() -> Any:
        # What `async_creator=connect` would do, with the options of SQLAlchemy's asyncpg adapter too.
        return engine.sync_engine.dialect.loaded_dbapi.connect(async_creator_fn=connect, **adapter_options)

    engine = create_async_engine(
        url,
        creator=adapted_connection,
        pool_size=settings.db.pool_size,
        max_overflow=settings.db.max_overflow,
        pool_timeout=settings.db.pool_timeout_seconds,
        pool_pre_ping=False,
    )
    event.listen(engine.sync_engine, "handle_error", _invalidate_lost_connections)
    trace_statements(engine.sync_engine)
    wakeups = Wakeups(engine)
    sessionmaker = async_sessionmaker(
        engine, expire_on_commit=False, autoflush=False, info={WAKEUPS: wakeups}
    )
    return Database(engine, sessionmaker, wakeups)


async def warn_of_server_settings_behind_pooler(db: Database, settings: Settings) -> None:
    """Behind PgBouncer the service cannot set its statement timeout on the server connections (the
    role or PgBouncer's `connect_query` must, README "PgBouncer"): say so at start when they run without
    the one configured, since a runaway statement would then hold its connection and its locks."""
    wanted = settings.db.statement_timeout_ms
    if settings.db.pooler == "none" or wanted == 0:
        return
    try:
        async with db.sessionmaker() as session:
            actual = await session.scalar(
                text("SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout'")
            )
    except Exception as error:  # the database is not up yet: the first requests will say so
        logger.info("could not read the server connections' statement_timeout: %s", type(error).__name__)
        return
    if actual != wanted:
        logger.warning(
            "the server connections behind the pooler run with statement_timeout = %s ms, not the %s ms of "
            "HELPDESK_DB_STATEMENT_TIMEOUT_MS: set it for the service's role or in PgBouncer's connect_query",
            actual,
            wanted,
        )


def _invalidate_lost_connections(context: ExceptionContext) -> None:
    """A lost connection is invalidated (and the pool's older ones with it) instead of being reused."""
    if context.original_exception is not None and connection_lost(context.original_exception):
        context.is_disconnect = True


def alembic_config(url: str):
    # Imported when migrating: the processes that only serve start without alembic.
    from alembic.config import Config

    # Built here rather than read from an alembic.ini, which an installed package does not have.
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = url
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Apply pending migrations (blocking; run it before the event loop or in a thread)."""
    # Imported when migrating: the processes that only serve start without alembic.
    from alembic import command

    command.upgrade(alembic_config(url), revision)
