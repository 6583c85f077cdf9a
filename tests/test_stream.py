"""The live event stream over real HTTP: new events, resuming, filters, and who may read what."""

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.factories import create_agent, create_group, create_ticket, mint_agent_token, rotate_token_secret
from tests.test_cli import serving


@asynccontextmanager
async def open_stream(
    live_url: str, token: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    """Messages of the stream as dicts (`event`, `id`, `data`), skipping keep-alive comments."""
    async with (
        httpx.AsyncClient(base_url=live_url, timeout=10) as client,
        client.stream(
            "GET",
            "/v1/events/stream",
            params=params,
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
        ) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield sse_messages(response)


async def sse_messages(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The messages of an event stream as dicts (`event`, `id`, `data`), keep-alive comments skipped."""
    message: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line:
            if message:
                yield message
            message = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            message[field] = value.removeprefix(" ")


async def next_messages(messages: AsyncIterator[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(10):
        return [await anext(messages) for _ in range(count)]


async def test_the_stream_delivers_new_events_and_resumes(live_url: str, tenant: Tenant) -> None:
    async with open_stream(live_url, tenant.admin_key, {"types": "ticket.created"}) as messages:
        first = await create_ticket(tenant.agent, subject="Đơn hàng 1")
        [message] = await next_messages(messages, 1)
    assert message["event"] == "ticket.created"
    event = json.loads(message["data"])
    assert event["data"]["ticket"]["id"] == first["id"]
    second = await create_ticket(tenant.agent, subject="Đơn hàng 2")
    third = await create_ticket(tenant.agent, subject="Đơn hàng 3")
    resume = {"Last-Event-ID": message["id"]}
    async with open_stream(live_url, tenant.admin_key, {"types": "ticket.created"}, resume) as messages:
        missed = await next_messages(messages, 2)
    assert [json.loads(item["data"])["data"]["ticket"]["id"] for item in missed] == [
        second["id"],
        third["id"],
    ]


async def test_the_stream_follows_one_ticket(live_url: str, tenant: Tenant) -> None:
    followed = await create_ticket(tenant.agent)
    other = await create_ticket(tenant.agent)
    # Starting "now" may include events that committed just before: ask for updates only.
    follow = {"ticket_id": followed["id"], "types": "ticket.updated"}
    async with open_stream(live_url, tenant.admin_key, follow) as messages:
        await tenant.agent.patch(f"/v1/tickets/{other['id']}", json={"priority": "high"})
        await tenant.agent.patch(f"/v1/tickets/{followed['id']}", json={"priority": "urgent"})
        [message] = await next_messages(messages, 1)
    assert message["event"] == "ticket.updated"
    assert json.loads(message["data"])["data"]["ticket"]["id"] == followed["id"]


async def test_a_stream_never_shows_another_workspace_or_hidden_tickets(
    live_url: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    restricted = await create_agent(tenant.admin, "crm-stream", ticket_access="restricted")
    group = await create_group(tenant.admin, "Nhóm trực", [restricted["id"]])
    kid, secret = await rotate_token_secret(tenant.admin)
    token = mint_agent_token(kid, secret, "crm-stream")
    async with (
        open_stream(live_url, other_tenant.admin_key) as foreign,
        open_stream(live_url, token, {"types": "ticket.created"}) as limited,
    ):
        await create_ticket(tenant.agent, subject="Ẩn")
        visible = await create_ticket(tenant.agent, subject="Của nhóm", group_id=group["id"])
        [message] = await next_messages(limited, 1)
        assert json.loads(message["data"])["data"]["ticket"]["id"] == visible["id"]
        marker = await create_ticket(other_tenant.agent, subject="Của mình")
        [own] = await next_messages(foreign, 1)
        assert json.loads(own["data"])["data"]["ticket"]["id"] == marker["id"], (
            "nothing of the other came first"
        )


async def test_a_bad_cursor_or_type_is_refused(live_url: str, tenant: Tenant) -> None:
    async with httpx.AsyncClient(
        base_url=live_url, headers={"Authorization": f"Bearer {tenant.admin_key}"}
    ) as client:
        assert (await client.get("/v1/events/stream", params={"types": "ticket.lost"})).status_code == 400
        assert (
            await client.get("/v1/events/stream", headers={"Last-Event-ID": "garbage"})
        ).status_code == 400
    async with httpx.AsyncClient(base_url=live_url) as anonymous:
        assert (await anonymous.get("/v1/events/stream")).status_code == 401


async def test_a_stopping_server_ends_its_streams_and_exits(
    database_url: str, tenant: Tenant, tmp_path: Path
) -> None:
    """SIGTERM to `helpdesk serve` with a stream open: the stream's response ends (cleanly, not cut:
    the grace is far longer than the test may take) and the process exits."""
    env = {
        "DATABASE_URL": database_url,
        "HELPDESK_SECRET_KEY": "test-secret-key",
        "HELPDESK_SHUTDOWN_GRACE_SECONDS": "600",
    }
    async with serving(env=env, log=tmp_path / "serve.log") as served:
        async with open_stream(served.url, tenant.admin_key, {"types": "ticket.created"}) as messages:
            await create_ticket(tenant.agent)
            await next_messages(messages, 1)
            served.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                assert [message async for message in messages] == []
        assert await asyncio.to_thread(served.process.wait, 30) == 128 + signal.SIGTERM
