"""Three API processes and two workers on one database, as a deployment runs them: no work is done twice,
every API process's live streams see every event, and an SLA breach is announced once."""

import asyncio
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from tests.conftest import create_tenant
from tests.factories import create_webhook
from tests.processes import start_api, start_worker
from tests.receiver import Behaviour, Receiver
from tests.test_sla import policy, target
from tests.test_stream import open_stream
from tests.world import CHANNEL_TOKEN, message_example

TICKETS = 30
MESSAGES = 30


async def _eventually(condition: Any, within_seconds: float = 60) -> None:
    async with asyncio.timeout(within_seconds):
        while not await condition():  # noqa: ASYNC110 - other processes' work announces nothing here
            await asyncio.sleep(0.2)


async def _types_seen(messages: AsyncIterator[dict[str, Any]], wanted: int) -> Counter[str]:
    """How often each ticket's `ticket.created` came on the stream, until `wanted` came."""
    seen: Counter[str] = Counter()
    async with asyncio.timeout(60):
        while sum(seen.values()) < wanted:
            message = await anext(messages)
            seen[json.loads(message["data"])["data"]["ticket"]["id"]] += 1
    return seen


async def test_three_api_processes_and_two_workers_share_the_work_once(
    app: FastAPI, database_url: str, receiver: Receiver
) -> None:
    tenant = await create_tenant(app, "Chuỗi cửa hàng Hoa Mai")
    settings = {"HELPDESK_WORKER_SLA_SECONDS": "0.5"}
    apis = [start_api(database_url, **settings) for _ in range(3)]
    workers = [start_worker(database_url, **settings) for _ in range(2)]
    try:
        for api in apis:
            await api.ready()
        auth = {"Authorization": f"Bearer {tenant.admin_key}"}
        async with AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(httpx.AsyncClient(base_url=api.url, headers=auth, timeout=20))
                for api in apis
            ]
            hooks = receiver.on("/hooks", Behaviour())
            await create_webhook(clients[0], hooks, event_types=["ticket.created", "ticket.sla_breached"])
            await policy(clients[1], [target("first_response", 60, business_hours=False)])
            channel = (
                await clients[2].post(
                    "/v1/channels", json={"kind": "chat", "name": "Chat", "secrets": {"token": CHANNEL_TOKEN}}
                )
            ).json()
            streams = [
                await stack.enter_async_context(
                    open_stream(api.url, tenant.admin_key, {"types": "ticket.created"})
                )
                for api in apis
            ]
            # Tickets made through every process; channel messages posted to every process, each twice.
            rotation = itertools.cycle(clients)
            for number in range(TICKETS):
                created = await next(rotation).post("/v1/tickets", json={"subject": f"Đơn hàng số {number}"})
                assert created.status_code == 201, created.text
            channel_auth = {"Authorization": f"Bearer {CHANNEL_TOKEN}"}
            for number in range(MESSAGES):
                message = message_example(f"nhieu-tien-trinh-{number}")
                for client in (next(rotation), next(rotation)):
                    posted = await client.post(
                        f"/v1/channels/{channel['id']}/messages", json=message, headers=channel_auth
                    )
                    assert posted.status_code == 202, posted.text
            # Every stream, whichever process serves it, sees every ticket created, once.
            for messages in streams:
                seen = await _types_seen(messages, TICKETS + MESSAGES)
                assert len(seen) == TICKETS + MESSAGES and set(seen.values()) == {1}

            async def threaded() -> bool:
                listed = await clients[0].get(
                    f"/v1/channels/{channel['id']}/inbound", params={"state": "processed", "limit": 100}
                )
                return len(listed.json()["items"]) == MESSAGES

            await _eventually(threaded)
            # Each ticket's first response falls due two hours ago: the workers announce each breach once.
            async with app.state.db.sessionmaker() as session, session.begin():
                await session.execute(
                    text(
                        "UPDATE ticket_slas SET started_at = started_at - interval '2 hours', "
                        "running_since = running_since - interval '2 hours', "
                        "due_at = due_at - interval '2 hours', warn_at = warn_at - interval '2 hours', "
                        "next_check_at = next_check_at - interval '2 hours' WHERE workspace_id = :workspace"
                    ),
                    {"workspace": tenant.workspace_id},
                )

            async def all_delivered() -> bool:
                kinds = Counter(json.loads(call.body)["type"] for call in receiver.at("/hooks"))
                return kinds["ticket.created"] >= TICKETS + MESSAGES and kinds["ticket.sla_breached"] >= (
                    TICKETS + MESSAGES
                )

            await _eventually(all_delivered)
            await asyncio.sleep(2)  # time for a second announcement or delivery, were there one
    finally:
        for worker in workers:
            worker.terminate()
        for api in apis:
            api.stop()
        for worker in workers:
            worker.wait(timeout=30)
    async with app.state.db.sessionmaker() as session:
        counts = (
            await session.execute(
                text(
                    "SELECT type, subject_id, count(*) FROM events WHERE workspace_id = :workspace "
                    "AND type IN ('ticket.created', 'ticket.comment_added', 'ticket.sla_breached') "
                    "GROUP BY type, subject_id"
                ),
                {"workspace": tenant.workspace_id},
            )
        ).all()
        comments = (
            await session.execute(
                text("SELECT count(*) FROM comments WHERE workspace_id = :id AND author_type = 'contact'"),
                {"id": tenant.workspace_id},
            )
        ).scalar_one()
    by_type = Counter(kind for kind, _, _ in counts)
    assert by_type["ticket.created"] == TICKETS + MESSAGES
    assert by_type["ticket.sla_breached"] == TICKETS + MESSAGES
    assert all(count == 1 for kind, _, count in counts if kind != "ticket.comment_added")
    assert comments == MESSAGES, "each channel message, posted twice to two processes, is one comment"
    deliveries = Counter(call.headers["webhook-id"] for call in receiver.at("/hooks"))
    assert set(deliveries.values()) == {1}, "every event reached the receiver exactly once"
