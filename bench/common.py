"""What the benchmarks share: a fresh, migrated database on a PostgreSQL server, dropped afterwards, the
API served on it, workspaces with keys, and the HTTP load that creates tickets."""

import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db import create_database, migrate
from app.embedded import asyncpg_url, start_embedded_postgres
from app.kit.ids import new_id

ROOT = Path(__file__).resolve().parent.parent
HELPDESK = str(Path(sys.executable).with_name("helpdesk"))

# The ticket the HTTP load creates (with the tenant's requester).
BODY = {
    "subject": "Giao hàng chậm, khách hỏi tình trạng đơn",
    "description": "Khách hàng gọi tổng đài hỏi đơn hàng đặt từ thứ hai chưa được giao.",
    "priority": "high",
    "type": "question",
    "tags": ["giao-hang", "tong-dai"],
    "channel": "phone",
}


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


async def server_version(url: str) -> str:
    connection = await asyncpg.connect(plain(url))
    try:
        return await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()


@contextmanager
def serve_api(url: str, workers: int, **env: str) -> Iterator[str]:
    """`helpdesk serve` on the database with this many processes and no worker; yields its base URL."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "HELPDESK_SECRET_KEY": secrets.token_hex(16),
        "HELPDESK_LOG_LEVEL": "warning",
        "HELPDESK_WORKER_IN_API": "false",
        **env,
    }
    server = subprocess.Popen(
        [HELPDESK, "serve", "--port", str(port), "--workers", str(workers)], cwd=ROOT, env=environment
    )
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0)
        yield f"http://127.0.0.1:{port}"
        server.terminate()
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


@dataclass(frozen=True)
class Tenant:
    key: str  # an agent's API key: what the load uses
    admin_key: str  # for setting the workspace up
    workspace_id: UUID
    requester_id: UUID


async def prepare(url: str, count: int, name: str = "Benchmark") -> list[Tenant]:
    """Workspaces, each with an agent key, an admin key and a requester contact."""
    from app.auth.service import issue_api_key
    from app.models import Contact
    from app.models.enums import Role
    from app.workspaces.service import create_workspace

    database = create_database(url, Settings())
    tenants = []
    async with database.sessionmaker() as session, session.begin():
        for index in range(count):
            created = await create_workspace(session, f"{name} {index}")
            key = await issue_api_key(session, created.workspace.id, "bench", Role.agent)
            admin = await issue_api_key(session, created.workspace.id, "bench admin", Role.admin)
            contact = Contact(id=new_id(), workspace_id=created.workspace.id, name="Nguyễn Văn An")
            session.add(contact)
            tenants.append(Tenant(key.plaintext, admin.plaintext, created.workspace.id, contact.id))
    await database.dispose()
    return tenants


async def drive_http(
    base: str,
    tenants: list[Tenant],
    concurrency: int,
    warmup: float,
    duration: float,
    body: dict[str, Any] = BODY,
) -> dict:
    """`POST /v1/tickets` at this concurrency (spread over the tenants): rate and latency after a warm-up."""
    latencies: list[float] = []
    errors = 0
    measuring = False
    deadline = time.monotonic() + warmup + duration

    async def worker(session: aiohttp.ClientSession, tenant: Tenant) -> None:
        nonlocal errors
        headers = {"Authorization": f"Bearer {tenant.key}", "Content-Type": "application/json"}
        payload = json.dumps({**body, "requester_id": str(tenant.requester_id)}).encode()
        while time.monotonic() < deadline:
            started = time.perf_counter()
            async with session.post(f"{base}/v1/tickets", data=payload, headers=headers) as response:
                await response.read()
                ok = response.status == 201
            if measuring:
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [
            asyncio.create_task(worker(session, tenants[index % len(tenants)]))
            for index in range(concurrency)
        ]
        await asyncio.sleep(warmup)
        measuring = True
        measured_from = time.monotonic()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - measured_from
    latencies.sort()
    return {
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "requests": len(latencies),
        "errors": errors,
    }
