"""What the benchmarks share: a fresh, migrated database on a PostgreSQL server, dropped afterwards."""

import asyncio
import os
import secrets
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from app.db import migrate
from app.embedded import asyncpg_url, start_embedded_postgres


def plain(url: str) -> str:
    """The URL as asyncpg itself takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_kind() -> str:
    return "BENCH_DATABASE_URL" if os.environ.get("BENCH_DATABASE_URL") else "embedded"


@contextmanager
def bench_database() -> Iterator[str]:
    """A migrated database of its own on BENCH_DATABASE_URL's server, else on an embedded one."""
    configured = os.environ.get("BENCH_DATABASE_URL")
    server_url = (
        asyncpg_url(configured)
        if configured
        else start_embedded_postgres(Path(tempfile.mkdtemp(prefix="helpdesk-bench-")), database="postgres")
    )
    name = f"helpdesk_bench_{secrets.token_hex(4)}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(plain(server_url))
        await connection.execute(statement)
        await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
