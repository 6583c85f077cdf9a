"""Probes for orchestrators and load balancers: alive, and ready to serve."""

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from app.health.service import migrations_head
from tests.conftest import make_client
from tests.processes import free_port, start_api


async def test_a_migrated_service_is_live_and_ready(app: FastAPI) -> None:
    client = make_client(app)
    assert (await client.get("/livez")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ok"}
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_a_database_behind_this_version_is_not_ready(app: FastAPI) -> None:
    client = make_client(app)
    async with app.state.db.sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE alembic_version SET version_num = '1b159ec8511b'"))
    try:
        answer = await client.get("/readyz")
    finally:
        async with app.state.db.sessionmaker() as session, session.begin():
            await session.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": migrations_head()}
            )
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "5"
    problem = answer.json()
    assert problem["code"] == "not_ready"
    assert "1b159ec8511b" in problem["detail"] and migrations_head() in problem["detail"]
    assert (await client.get("/livez")).status_code == 200


async def test_without_its_database_a_process_is_live_but_not_ready() -> None:
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/helpdesk"
    api = start_api(nowhere, HELPDESK_DB_POOL_TIMEOUT_SECONDS="1")
    try:
        async with httpx.AsyncClient(base_url=api.url, timeout=10) as client:
            for _ in range(300):
                try:
                    live = await client.get("/livez")
                    break
                except httpx.TransportError:
                    assert api.process.poll() is None, "helpdesk serve exited"
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("helpdesk serve never answered /livez")
            assert live.status_code == 200
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.headers["content-type"] == "application/problem+json"
    finally:
        api.stop()
