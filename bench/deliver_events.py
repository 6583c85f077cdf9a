"""Webhook delivery: throughput of one worker process, and commit-to-delivery time under load.

Starts PostgreSQL (BENCH_DATABASE_URL's server when set, else an embedded one) in a fresh database,
a webhook receiver on 127.0.0.1, and `helpdesk worker`. First it measures how fast one worker
delivers a backlog of events; then it serves the API, creates tickets at a steady rate, and measures
the time from each creation's commit (its 201 answer) to the webhook's arrival.
"""

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import aiohttp
import asyncpg
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.db import create_database  # noqa: E402
from app.kit.crypto import load_secret_box  # noqa: E402
from app.kit.ids import new_id  # noqa: E402
from bench.common import UNREACHED_RATE_LIMITS, bench_database, free_port, plain, server_kind  # noqa: E402

HELPDESK = str(Path(sys.executable).with_name("helpdesk"))


def spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env)


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.count = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.count += 1
        ticket = body["data"]["data"].get("ticket")
        if ticket is not None:
            self.arrivals.setdefault(ticket["id"], time.perf_counter())
        return web.Response(status=204)


async def start_receiver(receiver: Receiver) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/hook"


async def prepare(url: str, hook_url: str, secret_key: str) -> tuple[str, UUID]:
    from app.auth.service import issue_api_key
    from app.models.enums import Role
    from app.webhooks.schemas import WebhookCreate
    from app.webhooks.service import create_webhook
    from app.workspaces.service import create_workspace

    settings = Settings(
        secret_key=secret_key, webhook={"allow_http": True, "allowed_networks": "127.0.0.1/32"}
    )

    database = create_database(url, settings)
    async with database.sessionmaker() as session, session.begin():
        created = await create_workspace(session, "Benchmark")
        key = await issue_api_key(session, created.workspace.id, "bench", Role.agent)
        await create_webhook(
            session,
            created.workspace.id,
            WebhookCreate(url=hook_url, event_types=["ticket.created"]),
            settings,
            load_secret_box(settings),
        )
    await database.dispose()
    return key.plaintext, created.workspace.id


async def insert_backlog(url: str, workspace_id: UUID, count: int) -> None:
    """Committed ticket.created events, as the API would have written them."""
    connection = await asyncpg.connect(plain(url))
    rows = [
        (
            workspace_id,
            new_id(),
            new_id(),
            json.dumps({"ticket": {"id": str(new_id()), "subject": "Giao hàng chậm"}}),
        )
        for _ in range(count)
    ]
    await connection.executemany(
        "INSERT INTO events (workspace_id, id, subject_id, type, occurred_at, actor_type, data) "
        "VALUES ($1, $2, $3, 'ticket.created', now(), 'api_key', $4::jsonb)",
        rows,
    )
    await connection.close()


async def wait_until(predicate, limit_seconds: float) -> bool:
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


async def run(url: str, backlog: int, rate: float, duration: float) -> dict:
    secret_key = secrets.token_hex(16)
    receiver = Receiver()
    runner, hook_url = await start_receiver(receiver)
    key, workspace_id = await prepare(url, hook_url, secret_key)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HELPDESK_SECRET_KEY": secret_key,
        "HELPDESK_WEBHOOK_ALLOW_HTTP": "true",
        "HELPDESK_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
        "HELPDESK_LOG_LEVEL": "warning",
        "HELPDESK_WORKER_IN_API": "false",
        **UNREACHED_RATE_LIMITS,
    }
    processes = []
    try:
        await insert_backlog(url, workspace_id, backlog)
        started = time.perf_counter()
        processes.append(spawn([HELPDESK, "worker"], env))
        await wait_until(lambda: receiver.count >= backlog, 300)
        throughput = backlog / (time.perf_counter() - started)

        port = free_port()
        processes.append(spawn([HELPDESK, "serve", "--port", str(port)], env))
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        committed: dict[str, float] = {}
        async with aiohttp.ClientSession() as session:
            await wait_until(lambda: False, 2)
            for _ in range(200):
                try:
                    async with session.get(f"{base}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)

            async def create() -> None:
                body = json.dumps({"subject": "Khách hỏi đơn hàng", "priority": "normal"})
                async with session.post(f"{base}/v1/tickets", data=body, headers=headers) as response:
                    ticket = await response.json()
                    committed[ticket["id"]] = time.perf_counter()

            tasks = []
            interval = 1 / rate
            next_at = time.perf_counter()
            end = next_at + duration
            while next_at < end:
                tasks.append(asyncio.create_task(create()))
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            await asyncio.gather(*tasks)
        await wait_until(lambda: all(ticket in receiver.arrivals for ticket in committed), 30)
        latencies = sorted(
            max(0.0, receiver.arrivals[ticket] - moment)
            for ticket, moment in committed.items()
            if ticket in receiver.arrivals
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        await runner.cleanup()
    return {
        "backlog_events": backlog,
        "deliveries_per_second_one_worker": round(throughput, 1),
        "steady_load_tickets_per_second": rate,
        "tickets": len(committed),
        "delivered": len(latencies),
        "commit_to_delivery_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "commit_to_delivery_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlog", type=int, default=20_000, help="events for the throughput run")
    parser.add_argument("--rate", type=float, default=100.0, help="tickets per second for the latency run")
    parser.add_argument("--duration", type=float, default=20.0)
    args = parser.parse_args()
    with bench_database() as url:
        result = asyncio.run(run(url, args.backlog, args.rate, args.duration))
    print(json.dumps({"database": server_kind(), **result}, indent=2))


if __name__ == "__main__":
    main()
