"""Ticket creation over HTTP against the same rows written by raw asyncpg transactions.

Starts PostgreSQL (BENCH_DATABASE_URL's server when set, else an embedded one), migrates a fresh
database, serves the API with one process per core, drives `POST /v1/tickets` at a fixed
concurrency after a warm-up, then inserts the same rows (ticket + history) with plain asyncpg and
prints both rates and their ratio. Everything stays on 127.0.0.1 and is bounded in time.
"""

import argparse
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
from pathlib import Path
from uuid import UUID

import aiohttp
import asyncpg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.db import create_database, migrate  # noqa: E402
from app.embedded import asyncpg_url, start_embedded_postgres  # noqa: E402
from app.kit.ids import new_id  # noqa: E402
from app.kit.search import search_key  # noqa: E402

BODY = {
    "subject": "Giao hàng chậm, khách hỏi tình trạng đơn",
    "description": "Khách hàng gọi tổng đài hỏi đơn hàng đặt từ thứ hai chưa được giao.",
    "priority": "high",
    "type": "question",
    "tags": ["giao-hang", "tong-dai"],
    "channel": "phone",
}


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def prepare(url: str) -> tuple[str, UUID, UUID]:
    """A workspace, its admin key and a requester contact."""
    from app.auth.service import issue_api_key
    from app.models import Contact
    from app.models.enums import Role
    from app.workspaces.service import create_workspace

    database = create_database(url, Settings())
    async with database.sessionmaker() as session, session.begin():
        created = await create_workspace(session, "Benchmark")
        key = await issue_api_key(session, created.workspace.id, "bench", Role.agent)
        contact = Contact(id=new_id(), workspace_id=created.workspace.id, name="Nguyễn Văn An")
        session.add(contact)
    await database.dispose()
    return key.plaintext, created.workspace.id, contact.id


async def drive_http(
    base: str, key: str, body: dict, concurrency: int, warmup: float, duration: float
) -> dict:
    latencies: list[float] = []
    errors = 0
    measuring = False
    deadline = time.monotonic() + warmup + duration
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    payload = json.dumps(body).encode()

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
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
        tasks = [asyncio.create_task(worker(session)) for _ in range(concurrency)]
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


async def drive_asyncpg(
    url: str, workspace_id: UUID, requester_id: UUID, concurrency: int, duration: float
) -> dict:
    """The same rows the API writes for one ticket, as plain statements in one transaction each."""
    pool = await asyncpg.create_pool(plain(url), min_size=concurrency, max_size=concurrency)
    status_id = await pool.fetchval(
        "SELECT id FROM ticket_statuses WHERE workspace_id = $1 AND kind = 'new' AND is_default", workspace_id
    )
    count = 0
    deadline = time.monotonic() + duration

    async def worker() -> None:
        nonlocal count
        async with pool.acquire() as connection:
            while time.monotonic() < deadline:
                ticket_id = new_id()
                fields = {**BODY, "status_id": str(status_id), "requester_id": str(requester_id)}
                history = [
                    (new_id(), workspace_id, ticket_id, new_id(), "api_key", name, json.dumps(value))
                    for name, value in fields.items()
                ]
                async with connection.transaction():
                    await connection.executemany(
                        "INSERT INTO ticket_history (id, workspace_id, ticket_id, change_id, occurred_at, "
                        "actor_type, field, new_value) VALUES ($1, $2, $3, $4, now(), $5, $6, $7::jsonb)",
                        history,
                    )
                    await connection.execute(
                        "WITH counter AS (UPDATE ticket_counters SET last_number = last_number + 1 "
                        "WHERE workspace_id = $1 RETURNING last_number) "
                        "INSERT INTO tickets (workspace_id, id, number, subject, description, status_id, "
                        "status_kind, priority, type, requester_id, tags, channel, search_text) "
                        "SELECT $1, $2, last_number, $3, $4, $5, 'new', 'high', 'question', $6, $7, "
                        "'phone', $8 FROM counter",
                        workspace_id,
                        ticket_id,
                        BODY["subject"],
                        BODY["description"],
                        status_id,
                        requester_id,
                        BODY["tags"],
                        search_key(BODY["subject"]),
                    )
                count += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    await pool.close()
    return {"transactions_per_second": round(count / elapsed, 1), "transactions": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="API processes")
    args = parser.parse_args()

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
    server = None
    try:
        migrate(url)
        key, workspace_id, requester_id = asyncio.run(prepare(url))
        body = {**BODY, "requester_id": str(requester_id)}
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "HELPDESK_SECRET_KEY": secrets.token_hex(16),
            "HELPDESK_LOG_LEVEL": "warning",
        }
        server = subprocess.Popen(
            [
                Path(sys.executable).with_name("helpdesk"),
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            cwd=ROOT,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0)
        http = asyncio.run(drive_http(base, key, body, args.concurrency, args.warmup, args.duration))
        server.terminate()
        server.wait(timeout=30)
        server = None
        raw = asyncio.run(drive_asyncpg(url, workspace_id, requester_id, args.concurrency, args.duration))
    finally:
        if server is not None:
            server.kill()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    result = {
        "api_processes": args.workers,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "http": http,
        "raw_asyncpg": raw,
        "api_to_raw_ratio": round(http["requests_per_second"] / raw["transactions_per_second"], 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
