"""When the database cannot serve, clients get a 503 problem with Retry-After, never a 500."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from app.config import DatabaseSettings, Settings
from app.main import create_app
from tests.conftest import Tenant, make_client
from tests.locks import holding_workspace_row, wait_for_lock_waiter
from tests.processes import free_port
from tests.test_idempotency import TICKET


@contextlib.asynccontextmanager
async def app_on(database_url: str, settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


def assert_unavailable(response: httpx.Response, code: str = "database_unavailable") -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert int(response.headers["retry-after"]) > 0


async def test_a_database_nobody_listens_on_is_a_503(settings: Settings, tenant: Tenant) -> None:
    unreachable = [
        f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/helpdesk",
        "postgresql+asyncpg://postgres@/helpdesk?host=/nonexistent-socket-directory",
    ]
    for url in unreachable:
        async with app_on(url, settings) as application, make_client(application, tenant.admin_key) as client:
            assert_unavailable(await client.get("/healthz"))
            assert_unavailable(await client.post("/v1/tickets", json=TICKET))
            assert_unavailable(await client.get("/v1/tickets"))


async def test_a_statement_past_the_timeout_is_a_503(
    database_url: str, settings: Settings, tenant: Tenant
) -> None:
    impatient = settings.model_copy(update={"db": DatabaseSettings(statement_timeout_ms=300)})
    async with (
        holding_workspace_row(database_url, tenant.workspace_id),
        app_on(database_url, impatient) as application,
        make_client(application, tenant.admin_key) as client,
    ):
        assert_unavailable(await client.post("/v1/tickets", json=TICKET), "database_timeout")
    assert (await tenant.viewer.get("/v1/tickets")).json()["items"] == []


async def test_a_connection_lost_mid_request_is_a_503_and_the_next_request_succeeds(
    database_url: str, tenant: Tenant
) -> None:
    async with holding_workspace_row(database_url, tenant.workspace_id) as blocker:
        waiting = asyncio.create_task(tenant.agent.post("/v1/tickets", json=TICKET))
        backend = await wait_for_lock_waiter(blocker)
        # What a server shutting down, or an operator, does to a session.
        await blocker.execute("SELECT pg_terminate_backend($1)", backend)
        assert_unavailable(await waiting)
    created = await tenant.agent.post("/v1/tickets", json=TICKET)
    assert created.status_code == 201, created.text
