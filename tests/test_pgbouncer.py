"""The service behind PgBouncer in transaction pooling mode (HELPDESK_DB_POOLER=pgbouncer_transaction):
the API and the worker run every transaction through it, with no prepared statement outliving its
transaction, while LISTEN and migrations go to PostgreSQL itself (HELPDESK_DATABASE_DIRECT_URL).
PgBouncer's admin console shows the traffic went through it."""

import asyncio
import json
import logging
import subprocess
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import text

from app.config import DatabaseSettings, Settings
from app.db import create_database, warn_of_server_settings_behind_pooler
from tests.conftest import create_tenant, running_app, running_worker, served_over_http
from tests.factories import create_webhook
from tests.locks import plain_url
from tests.pooler import SERVER_POOL_SIZE, PgBouncer, running_pgbouncer
from tests.processes import HELPDESK, service_env, start_api, start_worker
from tests.receiver import Behaviour, Receiver
from tests.test_stream import next_messages, open_stream
from tests.world import CHANNEL_AUTH, CHANNEL_TOKEN, message_example

POOLED = {"HELPDESK_DB_POOLER": "pgbouncer_transaction"}


@pytest.fixture(scope="module")
def pooled_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(
        update={
            "db": settings.db.model_copy(update={"pooler": "pgbouncer_transaction"}),
            "database_direct_url": database_url,
        }
    )


@pytest.fixture(scope="module")
async def pooled_app(pooled_settings: Settings, pgbouncer: PgBouncer) -> AsyncIterator[FastAPI]:
    """The app with DATABASE_URL at PgBouncer, and the test database itself as its direct URL."""
    async with running_app(pooled_settings, pgbouncer.url) as application:
        yield application


def transactions(pgbouncer: PgBouncer) -> int:
    """Transactions PgBouncer has run for the test database (it has no row for it before the first)."""
    return sum(int(stats["total_xact_count"]) for stats in pgbouncer.show("STATS"))


async def listening_backends(database_url: str, pgbouncer: PgBouncer) -> tuple[int, int]:
    """Backends of the test database whose last statement was a LISTEN: how many are connected to
    PostgreSQL directly, and how many are PgBouncer's server connections."""
    pooled = {row["remote_pid"] for row in pgbouncer.show("SERVERS")}
    connection = await asyncpg.connect(plain_url(database_url))
    try:
        listening = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN %'"
        )
    finally:
        await connection.close()
    through_pgbouncer = sum(1 for row in listening if row["pid"] in pooled)
    return len(listening) - through_pgbouncer, through_pgbouncer


def test_a_pooler_without_a_direct_url_is_refused() -> None:
    with pytest.raises(ValidationError, match="HELPDESK_DATABASE_DIRECT_URL"):
        Settings(db=DatabaseSettings(pooler="pgbouncer_transaction"))


async def test_tickets_comments_and_replays_go_through_pgbouncer(
    pooled_app: FastAPI, pgbouncer: PgBouncer
) -> None:
    before = transactions(pgbouncer)
    tenant = await create_tenant(pooled_app, "Nhà thuốc Phúc An")
    headers = {"Idempotency-Key": "crm-don-thuoc-7"}
    created = await tenant.agent.post("/v1/tickets", json={"subject": "Thuốc giao thiếu"}, headers=headers)
    replayed = await tenant.agent.post("/v1/tickets", json={"subject": "Thuốc giao thiếu"}, headers=headers)
    assert created.status_code == replayed.status_code == 201, created.text
    assert replayed.json() == created.json() and replayed.headers["idempotent-replayed"] == "true"
    ticket = created.json()
    comment = await tenant.agent.post(
        f"/v1/tickets/{ticket['id']}/comments",
        json={"body": "Đã gọi lại cho khách, giao bù chiều nay.", "public": False},
    )
    assert comment.status_code == 201, comment.text
    read = await tenant.agent.get(f"/v1/tickets/{ticket['id']}")
    changed = await tenant.agent.patch(
        f"/v1/tickets/{ticket['id']}", json={"priority": "high"}, headers={"If-Match": read.headers["etag"]}
    )
    assert changed.status_code == 200, changed.text
    listed = await tenant.viewer.get("/v1/tickets", params={"q": "thuoc giao thieu"})
    assert [item["id"] for item in listed.json()["items"]] == [ticket["id"]]
    assert transactions(pgbouncer) - before >= 6, "the requests' transactions went through PgBouncer"
    async with pooled_app.state.db.sessionmaker() as session, session.begin():
        counted = await session.execute(
            text("SELECT count(*) FROM tickets WHERE workspace_id = :id"), {"id": tenant.workspace_id}
        )
        assert counted.scalar_one() == 1
        # Not one prepared statement stays on the server connection for the next client to trip over.
        assert (await session.execute(text("SELECT name FROM pg_prepared_statements"))).all() == []
        # Settings the service cannot send through PgBouncer are the pooled connections' own (README).
        assert (await session.execute(text("SHOW statement_timeout"))).scalar_one() == "30s"


async def test_concurrent_requests_share_fewer_server_connections(
    pooled_app: FastAPI, pooled_settings: Settings, pgbouncer: PgBouncer
) -> None:
    tenant = await create_tenant(pooled_app, "Siêu thị mini Bảo Ngọc")
    at_once = 4 * (pooled_settings.db.pool_size + pooled_settings.db.max_overflow)
    before = transactions(pgbouncer)

    async def create(number: int) -> httpx.Response:
        return await tenant.agent.post("/v1/tickets", json={"subject": f"Hàng đổi trả số {number}"})

    answers = await asyncio.gather(*(create(number) for number in range(at_once)))
    refused = [answer.text for answer in answers if answer.status_code != 201]
    assert refused == [], refused
    counted = await tenant.viewer.get("/v1/tickets/counts", params={"group_by": "status_kind"})
    assert counted.json()["total"] == at_once
    assert transactions(pgbouncer) - before >= at_once
    [pool] = pgbouncer.show("POOLS")
    servers = sum(pool[state] for state in ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"))
    # The app keeps its pool of client connections; PgBouncer served them all on fewer server connections.
    assert pool["cl_active"] >= pooled_settings.db.pool_size > SERVER_POOL_SIZE >= servers


async def test_the_worker_threads_a_channel_message_and_delivers_a_webhook_through_pgbouncer(
    pooled_app: FastAPI,
    pooled_settings: Settings,
    database_url: str,
    pgbouncer: PgBouncer,
    receiver: Receiver,
) -> None:
    tenant = await create_tenant(pooled_app, "Cửa hàng điện máy Thành Công")
    hooks = receiver.on("/pgbouncer-hooks", Behaviour())
    await create_webhook(tenant.admin, hooks, event_types=["ticket.created"])
    channel = await tenant.admin.post(
        "/v1/channels", json={"kind": "chat", "name": "Chat", "secrets": {"token": CHANNEL_TOKEN}}
    )
    assert channel.status_code == 201, channel.text
    posted = await tenant.anonymous.post(
        f"/v1/channels/{channel.json()['id']}/messages",
        json=message_example("qua-pgbouncer"),
        headers=CHANNEL_AUTH,
    )
    assert posted.status_code == 202, posted.text
    async with running_worker(pooled_app, database_url, pooled_settings):
        [delivery] = await receiver.wait_for("/pgbouncer-hooks", 1, within_seconds=20)
    event = json.loads(delivery.body)
    assert event["type"] == "ticket.created"
    assert event["data"]["data"]["ticket"]["channel"] == "chat"
    threaded = await tenant.admin.get(
        f"/v1/channels/{channel.json()['id']}/inbound", params={"state": "processed"}
    )
    assert len(threaded.json()["items"]) == 1


async def test_the_live_stream_listens_on_the_direct_connection(
    pooled_settings: Settings, database_url: str, pgbouncer: PgBouncer
) -> None:
    async with (
        running_app(pooled_settings, pgbouncer.url) as application,
        served_over_http(application) as url,
    ):
        tenant = await create_tenant(application, "Phòng khám Nha khoa Hạnh Phúc")
        direct_before, _ = await listening_backends(database_url, pgbouncer)
        async with open_stream(url, tenant.admin_key, {"types": "ticket.created"}) as messages:
            created = await tenant.agent.post("/v1/tickets", json={"subject": "Đặt lịch nhổ răng khôn"})
            [message] = await next_messages(messages, 1)
            direct_after, through_pgbouncer = await listening_backends(database_url, pgbouncer)
    assert json.loads(message["data"])["data"]["ticket"]["id"] == created.json()["id"]
    assert direct_after == direct_before + 1, "the stream's LISTEN is a direct connection of its own"
    assert through_pgbouncer == 0


async def test_helpdesk_serve_and_worker_processes_through_pgbouncer(
    pooled_app: FastAPI, database_url: str, pgbouncer: PgBouncer, receiver: Receiver
) -> None:
    tenant = await create_tenant(pooled_app, "Công ty vận tải Sao Việt")
    settings = {**POOLED, "HELPDESK_DATABASE_DIRECT_URL": database_url}
    api = start_api(pgbouncer.url, **settings)
    worker = start_worker(pgbouncer.url, **settings)
    try:
        await api.ready()
        async with httpx.AsyncClient(
            base_url=api.url, headers={"Authorization": f"Bearer {tenant.admin_key}"}, timeout=20
        ) as client:
            hooks = receiver.on("/pgbouncer-processes", Behaviour())
            await create_webhook(client, hooks, event_types=["ticket.created"])
            before = transactions(pgbouncer)
            created = await client.post("/v1/tickets", json={"subject": "Xe giao hàng đến trễ"})
            assert created.status_code == 201, created.text
            [delivery] = await receiver.wait_for("/pgbouncer-processes", 1, within_seconds=20)
        assert json.loads(delivery.body)["data"]["data"]["ticket"]["id"] == created.json()["id"]
        assert transactions(pgbouncer) > before
        clients = {row["application_name"] for row in pgbouncer.show("CLIENTS")}
        assert clients == {"helpdesk"}, "only the service's pools are PgBouncer's clients, no LISTEN"
    finally:
        api.stop()
        worker.terminate()
        worker.wait(timeout=30)


def test_migrate_uses_the_direct_url(database_url: str) -> None:
    # DATABASE_URL leads nowhere: the migrations can only have gone to the direct URL.
    env = service_env(
        "postgresql://postgres@127.0.0.1:1/nowhere", **POOLED, HELPDESK_DATABASE_DIRECT_URL=database_url
    )
    finished = subprocess.run([HELPDESK, "migrate"], env=env, capture_output=True, timeout=60, check=False)  # noqa: S603 - our own command
    assert finished.returncode == 0, finished.stderr.decode(errors="replace")
    assert b"database is up to date" in finished.stdout


@pytest.mark.parametrize(
    ("connect_query", "warned"),
    [("SET statement_timeout = 30000", False), ("SET client_connection_check_interval = 1000", True)],
)
async def test_a_pooler_whose_server_connections_lack_the_statement_timeout_is_warned_of(
    pooled_settings: Settings,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    caplog: pytest.LogCaptureFixture,
    connect_query: str,
    warned: bool,
) -> None:
    with running_pgbouncer(database_url, tmp_path_factory.mktemp("pgbouncer"), connect_query) as pooler:
        database = create_database(pooler.url, pooled_settings)
        try:
            with caplog.at_level(logging.WARNING, logger="app.db"):
                await warn_of_server_settings_behind_pooler(database, pooled_settings)
        finally:
            await database.dispose()
    warnings = [record.getMessage() for record in caplog.records if record.name == "app.db"]
    assert bool(warnings) is warned, warnings
    if warned:
        assert "statement_timeout = 0 ms, not the 30000 ms" in warnings[0]
