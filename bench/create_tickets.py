"""Ticket creation over HTTP against the same rows written by raw asyncpg transactions.

Starts PostgreSQL (BENCH_DATABASE_URL's server when set, else an embedded one), migrates a fresh
database, serves the API with one process per core, drives `POST /v1/tickets` at a fixed
concurrency after a warm-up, then inserts the same rows (ticket, history, event) with plain asyncpg and
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
import time
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.db import create_database  # noqa: E402
from app.kit.ids import new_id  # noqa: E402
from app.kit.search import search_key  # noqa: E402
from bench.common import bench_database, free_port, plain, server_kind  # noqa: E402

BODY = {
    "subject": "Giao hàng chậm, khách hỏi tình trạng đơn",
    "description": "Khách hàng gọi tổng đài hỏi đơn hàng đặt từ thứ hai chưa được giao.",
    "priority": "high",
    "type": "question",
    "tags": ["giao-hang", "tong-dai"],
    "channel": "phone",
}


@dataclass(frozen=True)
class Tenant:
    key: str
    workspace_id: UUID
    requester_id: UUID


async def prepare(url: str, count: int) -> list[Tenant]:
    """Workspaces, each with an agent key and a requester contact."""
    from app.auth.service import issue_api_key
    from app.models import Contact
    from app.models.enums import Role
    from app.workspaces.service import create_workspace

    database = create_database(url, Settings())
    tenants = []
    async with database.sessionmaker() as session, session.begin():
        for index in range(count):
            created = await create_workspace(session, f"Benchmark {index}")
            key = await issue_api_key(session, created.workspace.id, "bench", Role.agent)
            contact = Contact(id=new_id(), workspace_id=created.workspace.id, name="Nguyễn Văn An")
            session.add(contact)
            tenants.append(Tenant(key.plaintext, created.workspace.id, contact.id))
    await database.dispose()
    return tenants


async def drive_http(
    base: str, tenants: list[Tenant], concurrency: int, warmup: float, duration: float
) -> dict:
    latencies: list[float] = []
    errors = 0
    measuring = False
    deadline = time.monotonic() + warmup + duration

    async def worker(session: aiohttp.ClientSession, tenant: Tenant) -> None:
        nonlocal errors
        headers = {"Authorization": f"Bearer {tenant.key}", "Content-Type": "application/json"}
        payload = json.dumps({**BODY, "requester_id": str(tenant.requester_id)}).encode()
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


RAW_INSERT = """
WITH history AS (
    INSERT INTO ticket_history
        (workspace_id, id, ticket_id, change_id, occurred_at, actor_type, field, new_value)
    SELECT $1, h.id, $2, $3, now(), 'api_key', h.field, h.new_value
    FROM jsonb_to_recordset($4::jsonb) AS h(id uuid, field text, new_value jsonb)
), counter AS (
    UPDATE ticket_counters SET last_number = last_number + 1 WHERE workspace_id = $1 RETURNING last_number
), event AS (
    INSERT INTO events (workspace_id, id, subject_id, type, occurred_at, actor_type, data)
    SELECT $1, $3, $2, 'ticket.created', now(), 'api_key',
           jsonb_set($11::jsonb, '{ticket,number}', to_jsonb(last_number))
    FROM counter
)
INSERT INTO tickets (workspace_id, id, number, subject, description, status_id, status_kind, priority, type,
                     requester_id, tags, channel, search_text)
SELECT $1, $2, last_number, $5, $6, $7, 'new', 'high', 'question', $8, $9, 'phone', $10 FROM counter
RETURNING *
"""


async def drive_asyncpg(url: str, tenants: list[Tenant], concurrency: int, duration: float) -> dict:
    """The rows the API writes for one ticket (history, event, number, ticket) as one plain statement."""
    pool = await asyncpg.create_pool(plain(url), min_size=concurrency, max_size=concurrency)
    count = 0
    deadline = time.monotonic() + duration

    async def worker(tenant: Tenant) -> None:
        nonlocal count
        async with pool.acquire() as connection:
            status_id = await connection.fetchval(
                "SELECT id FROM ticket_statuses WHERE workspace_id = $1 AND kind = 'new' AND is_default",
                tenant.workspace_id,
            )
            fields = {**BODY, "status_id": str(status_id), "requester_id": str(tenant.requester_id)}
            while time.monotonic() < deadline:
                ticket_id = new_id()
                history = [
                    {"id": str(new_id()), "field": name, "new_value": value} for name, value in fields.items()
                ]
                async with connection.transaction():
                    await connection.fetchrow(
                        RAW_INSERT,
                        tenant.workspace_id,
                        ticket_id,
                        new_id(),
                        json.dumps(history),
                        BODY["subject"],
                        BODY["description"],
                        status_id,
                        tenant.requester_id,
                        BODY["tags"],
                        search_key(BODY["subject"]),
                        json.dumps({"ticket": {**fields, "id": str(ticket_id)}}),
                    )
                count += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(tenants[index % len(tenants)]) for index in range(concurrency)))
    elapsed = time.monotonic() - started
    await pool.close()
    return {"transactions_per_second": round(count / elapsed, 1), "transactions": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="API processes")
    parser.add_argument(
        "--workspaces",
        type=int,
        default=1,
        help="Spread the load over this many workspaces (1: every ticket takes the same number lock)",
    )
    args = parser.parse_args()

    server = None
    with bench_database() as url:
        try:
            tenants = asyncio.run(prepare(url, args.workspaces))
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
            http = asyncio.run(drive_http(base, tenants, args.concurrency, args.warmup, args.duration))
            server.terminate()
            server.wait(timeout=30)
            server = None
            raw = asyncio.run(drive_asyncpg(url, tenants, args.concurrency, args.duration))
        finally:
            if server is not None:
                server.kill()
    result = {
        "database": server_kind(),
        "api_processes": args.workers,
        "workspaces": args.workspaces,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "http": http,
        "raw_asyncpg": raw,
        "api_to_raw_ratio": round(http["requests_per_second"] / raw["transactions_per_second"], 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
