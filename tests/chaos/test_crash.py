"""Processes killed at random under load lose nothing and duplicate nothing.

Two `helpdesk serve` processes and two `helpdesk worker` processes run on the test database with the
default pool settings. Clients create tickets with Idempotency-Keys and post channel messages (some
twice), retrying what failed on the way with the same key or message id, while one process or another
is SIGKILLed every 5 to 15 seconds and started again. Afterwards every acknowledged ticket exists
once, every acknowledged message is one comment, and every event reached the webhook receiver.
"""

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest

from tests.conftest import Tenant
from tests.factories import create
from tests.locks import plain_url
from tests.processes import ApiProcess, free_port, start_api, start_worker
from tests.receiver import Behaviour, Receiver, header, payload

pytestmark = pytest.mark.chaos

SEED = 20261207
TICKETS = int(os.environ.get("CHAOS_TICKETS", "3000"))
MESSAGES = int(os.environ.get("CHAOS_MESSAGES", "1000"))
# The load is spread over this long, so that the kills fall all through it.
LOAD_SECONDS = float(os.environ.get("CHAOS_LOAD_SECONDS", "200"))
RESENT_SHARE = 0.2
CHANNEL_TOKEN = "kenh-chat-hon-loan-0123456789abcdef"
# A request retried for longer than this means the service did not come back.
GIVE_UP_SECONDS = 90


@dataclass
class Figures:
    kills: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    longest_retry_seconds: float = 0.0


class Fleet:
    """The service's processes, each of which may be killed and is then started again."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.ports = [free_port(), free_port()]
        self.apis: list[ApiProcess] = [start_api(database_url, port) for port in self.ports]
        self.workers = [start_worker(database_url) for _ in range(2)]

    @property
    def urls(self) -> list[str]:
        return [api.url for api in self.apis]

    def kill_and_restart(self, rng: random.Random, figures: Figures) -> None:
        victim = rng.randrange(len(self.apis) + len(self.workers))
        if victim < len(self.apis):
            self.apis[victim].kill()
            self.apis[victim] = start_api(self.database_url, self.ports[victim])
            figures.kills["api"] += 1
        else:
            index = victim - len(self.apis)
            self.workers[index].kill()
            self.workers[index].wait()
            self.workers[index] = start_worker(self.database_url)
            figures.kills["worker"] += 1

    def stop(self) -> None:
        for api in self.apis:
            api.stop()
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            worker.wait(timeout=60)


async def with_retries(
    client: httpx.AsyncClient,
    urls: list[str],
    start: int,
    figures: Figures,
    send: Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]],
    done: set[int],
) -> httpx.Response:
    """Send until one of `done` answers, through the API processes in turn, as a careful client would."""
    began = time.monotonic()
    attempt = 0
    while True:
        try:
            response = await send(client, urls[(start + attempt) % len(urls)])
            figures.answers[str(response.status_code)] += 1
            if response.status_code in done:
                break
            assert response.status_code in (409, 503), f"{response.status_code} {response.text}"
            assert response.headers["content-type"] == "application/problem+json"
            delay = float(response.headers.get("retry-after", "1"))
        except httpx.TransportError as error:
            figures.answers[type(error).__name__] += 1
            delay = 0.2
        attempt += 1
        figures.retries += 1
        assert time.monotonic() - began < GIVE_UP_SECONDS, "the service did not come back"
        await asyncio.sleep(min(delay, 1.0))
    figures.longest_retry_seconds = max(figures.longest_retry_seconds, time.monotonic() - began)
    return response


async def kill_at_random(fleet: Fleet, rng: random.Random, figures: Figures, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), rng.uniform(5, 15))
        except TimeoutError:
            fleet.kill_and_restart(rng, figures)


async def paced(count: int, run: Callable[[int], Awaitable[None]]) -> None:
    """`run(i)` for every i, started evenly over LOAD_SECONDS."""
    began = time.monotonic()

    async def later(number: int) -> None:
        await asyncio.sleep(max(0.0, began + number * LOAD_SECONDS / count - time.monotonic()))
        await run(number)

    await asyncio.gather(*(later(number) for number in range(count)))


async def wait_until(check: Callable[[], Awaitable[bool]], within_seconds: float, what: str) -> None:
    deadline = time.monotonic() + within_seconds
    while not await check():
        assert time.monotonic() < deadline, f"not {what} within {within_seconds} s"
        await asyncio.sleep(1)


async def test_nothing_acknowledged_is_lost_or_duplicated_while_processes_are_killed(
    database_url: str, tenant: Tenant, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    await create(
        tenant.admin,
        "/v1/webhooks",
        {"url": receiver.on("/crm", Behaviour()), "event_types": ["*"], "description": "CRM"},
    )
    channel = await create(
        tenant.admin,
        "/v1/channels",
        {"kind": "chat", "name": "Chat hỗn loạn", "secrets": {"token": CHANNEL_TOKEN}},
    )
    rng = random.Random(SEED)
    figures = Figures()
    tickets: dict[str, str] = {}
    messages: set[str] = set()
    fleet = Fleet(database_url)
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=32)
    try:
        await asyncio.gather(*(api.ready() for api in fleet.apis))
        chaos = asyncio.create_task(kill_at_random(fleet, rng, figures, stop))
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:

            async def create_ticket(number: int) -> None:
                key = f"chaos-{number}"

                async def send(client: httpx.AsyncClient, url: str) -> httpx.Response:
                    return await client.post(
                        f"{url}/v1/tickets",
                        json={"subject": f"Sự cố {key}", "priority": "high", "tags": ["hon-loan"]},
                        headers={"Authorization": f"Bearer {tenant.admin_key}", "Idempotency-Key": key},
                    )

                response = await with_retries(client, fleet.urls, number, figures, send, {201})
                tickets[key] = response.json()["id"]

            async def post_message(number: int) -> None:
                body = {
                    "message_id": f"tin-{number}",
                    "conversation_id": f"hoi-thoai-{number % 97}",
                    "contact": {"id": f"khach-{number % 97}", "name": f"Khách {number % 97}"},
                    "text": f"Tin nhắn số {number}: shop ơi đơn của em đâu rồi ạ?",
                }

                async def send(client: httpx.AsyncClient, url: str) -> httpx.Response:
                    return await client.post(
                        f"{url}/v1/channels/{channel['id']}/messages",
                        json=body,
                        headers={"Authorization": f"Bearer {CHANNEL_TOKEN}"},
                    )

                await with_retries(client, fleet.urls, number, figures, send, {202})
                messages.add(body["message_id"])
                if rng.random() < RESENT_SHARE:
                    again = await with_retries(client, fleet.urls, number + 1, figures, send, {202})
                    assert again.json()["duplicate"] is True

            await asyncio.gather(paced(TICKETS, create_ticket), paced(MESSAGES, post_message))
        stop.set()
        await chaos
        assert sum(figures.kills.values()) >= LOAD_SECONDS // 15, "the load ended before the kills"
        summary = await verify(database_url, tenant, receiver, tickets, messages, figures)
        with capsys.disabled():
            print(summary)
    finally:
        stop.set()
        fleet.stop()


async def verify(
    database_url: str,
    tenant: Tenant,
    receiver: Receiver,
    tickets: dict[str, str],
    messages: set[str],
    figures: Figures,
) -> str:
    """Every acknowledged ticket exists once, every message is one comment, every event arrived; the
    run's figures."""
    connection = await asyncpg.connect(plain_url(database_url))
    try:
        workspace = tenant.workspace_id

        async def threaded() -> bool:
            waiting = await connection.fetchval(
                "SELECT count(*) FROM inbound_messages WHERE workspace_id = $1 AND state = 'received'",
                workspace,
            )
            return waiting == 0

        await wait_until(threaded, 120, "every message threaded")
        rows = await connection.fetch(
            "SELECT subject, array_agg(id::text) AS ids FROM tickets"
            " WHERE workspace_id = $1 AND subject LIKE 'Sự cố chaos-%' GROUP BY subject",
            workspace,
        )
        created = {row["subject"].removeprefix("Sự cố "): row["ids"] for row in rows}
        duplicated = {key: ids for key, ids in created.items() if len(ids) > 1}
        assert not duplicated, f"tickets created twice: {list(duplicated.items())[:5]}"
        assert {key: ids[0] for key, ids in created.items()} == tickets
        comments = dict(
            await connection.fetch(
                "SELECT provider_message_id, count(*) FROM comments"
                " WHERE workspace_id = $1 AND provider_message_id = ANY($2::text[]) GROUP BY 1",
                workspace,
                list(messages),
            )
        )
        assert set(comments) == messages, (
            f"messages without a comment: {sorted(messages - set(comments))[:5]}"
        )
        assert set(comments.values()) == {1}, "a message became several comments"
        failed = await connection.fetchval(
            "SELECT count(*) FROM inbound_messages WHERE workspace_id = $1 AND state <> 'processed'",
            workspace,
        )
        assert failed == 0

        event_ids = {
            str(row["id"])
            for row in await connection.fetch("SELECT id FROM events WHERE workspace_id = $1", workspace)
        }

        async def delivered() -> bool:
            return event_ids <= {header(request, "webhook-id") for request in receiver.at("/crm")}

        await wait_until(delivered, 180, "every event delivered")
    finally:
        await connection.close()
    arrivals = Counter(header(request, "webhook-id") for request in receiver.at("/crm"))
    for request in receiver.at("/crm"):
        assert payload(request)["data"]["id"] == header(request, "webhook-id")
    twice = sum(1 for count in arrivals.values() if count > 1)
    return (
        f"\nchaos: {len(tickets)} tickets and {len(messages)} messages acknowledged; "
        f"kills {dict(figures.kills)}; answers {dict(figures.answers)}; {figures.retries} retries, "
        f"the longest request {figures.longest_retry_seconds:.1f} s; {len(event_ids)} events delivered, "
        f"{twice} of them more than once ({sum(arrivals.values()) - len(arrivals)} extra deliveries)"
    )
