"""The suite runs against a real PostgreSQL: TEST_DATABASE_URL's server when set, else the embedded one.

It creates its own uniquely named database, migrates it once, and drops it at the end. Tests are
isolated by workspace: each makes its own, so no test sees another's rows.
"""

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from app.config import PortalSettings, RateLimitSettings, Settings, WebhookSettings, WorkerSettings
from app.db import Database, migrate
from app.embedded import asyncpg_url, start_embedded_postgres
from app.main import create_app
from app.models.enums import Role
from tests.locks import plain_url
from tests.processes import GENEROUS_RATE_LIMIT, GENEROUS_RATE_LIMITS, RATE_LIMIT_FIELDS, Server, free_port

if TYPE_CHECKING:
    from tests.pooler import PgBouncer
    from tests.receiver import Receiver


async def admin_statement(maintenance_url: str, statement: str) -> None:
    """Run a statement (CREATE/DROP DATABASE) on the server of `maintenance_url`."""
    connection = await asyncpg.connect(plain_url(maintenance_url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = f"helpdesk_test_{secrets.token_hex(6)}"
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        maintenance_url = asyncpg_url(configured)
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="helpdesk-test-"))
        maintenance_url = start_embedded_postgres(data_dir, database="postgres")
    asyncio.run(admin_statement(maintenance_url, f'CREATE DATABASE "{name}"'))
    url = make_url(maintenance_url).set(database=name).render_as_string(hide_password=False)
    migrate(url)
    yield url
    asyncio.run(admin_statement(maintenance_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def empty_database_url(database_url: str) -> Iterator[str]:
    """A new database on the test server, not migrated; dropped at the end of the test."""
    name = f"helpdesk_empty_{secrets.token_hex(4)}"
    asyncio.run(admin_statement(database_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin_statement(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pgbouncer(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator["PgBouncer"]:
    """PgBouncer pooling transactions in front of the test database (tests/pooler.py), for the whole run
    once a test asks for it."""
    from tests.pooler import running_pgbouncer

    with running_pgbouncer(database_url, tmp_path_factory.mktemp("pgbouncer")) as running:
        yield running


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        secret_key="test-secret-key",
        data_dir=tmp_path_factory.mktemp("data"),
        # The tests' webhook receivers listen on this machine.
        webhook=WebhookSettings(allow_http=True, allowed_networks="127.0.0.1/32"),
        # Tests run the worker's jobs themselves, with clocks of their own.
        worker=WorkerSettings(in_api="false"),
        rate_limit=RateLimitSettings(**dict.fromkeys(RATE_LIMIT_FIELDS, GENEROUS_RATE_LIMIT)),
        # The suite asks for access links from one address; tests/test_portal.py sets its own limits.
        portal=PortalSettings(
            access_per_address_per_hour=GENEROUS_RATE_LIMIT, access_per_client_per_minute=GENEROUS_RATE_LIMIT
        ),
    )


@contextlib.asynccontextmanager
async def running_app(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    """The app with these settings, started (its database pool and notifier) until the block ends."""
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def app(database_url: str, settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(settings, database_url) as application:
        yield application


@pytest.fixture(scope="session")
def db(app: FastAPI) -> Database:
    return app.state.db


def make_client(app: FastAPI, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://testserver",
        headers=headers,
    )


@dataclass
class Tenant:
    """A workspace of its own with a client per role."""

    workspace_id: UUID
    admin_key: str
    admin: httpx.AsyncClient
    agent: httpx.AsyncClient
    viewer: httpx.AsyncClient
    anonymous: httpx.AsyncClient


async def create_tenant(app: FastAPI, name: str = "Công ty TNHH Ánh Dương") -> Tenant:
    from app.auth.service import issue_api_key
    from app.workspaces.service import create_workspace

    async with app.state.db.sessionmaker() as session, session.begin():
        created = await create_workspace(session, name)
        agent_key = await issue_api_key(session, created.workspace.id, "agent", Role.agent)
        viewer_key = await issue_api_key(session, created.workspace.id, "viewer", Role.viewer)
    return Tenant(
        workspace_id=created.workspace.id,
        admin_key=created.admin_key.plaintext,
        admin=make_client(app, created.admin_key.plaintext),
        agent=make_client(app, agent_key.plaintext),
        viewer=make_client(app, viewer_key.plaintext),
        anonymous=make_client(app),
    )


@contextlib.asynccontextmanager
async def running_worker(app: FastAPI, database_url: str, settings: Settings) -> AsyncIterator[None]:
    """A worker in this process for the duration of the block; stopped the way SIGTERM stops one."""
    from app.worker.runner import Worker

    stopping = asyncio.Event()
    worker = asyncio.create_task(
        Worker(app.state.db, database_url, settings, app.state.secret_box).run(stopping)
    )
    try:
        yield
    finally:
        stopping.set()
        await worker


async def agent_token_client(app: FastAPI, tenant: Tenant, external_id: str) -> httpx.AsyncClient:
    """A client acting as the tenant's agent `external_id` through an agent token."""
    from tests.factories import mint_agent_token, rotate_token_secret

    kid, secret = await rotate_token_secret(tenant.admin)
    return make_client(app, mint_agent_token(kid, secret, external_id))


@pytest.fixture
async def tenant(app: FastAPI) -> Tenant:
    return await create_tenant(app)


@pytest.fixture
async def other_tenant(app: FastAPI) -> Tenant:
    return await create_tenant(app, "Cửa hàng Bình Minh")


@pytest.fixture
async def receiver() -> AsyncIterator["Receiver"]:
    """A webhook receiver on 127.0.0.1 (tests/receiver.py)."""
    from tests.receiver import running_receiver

    async with running_receiver() as running:
        yield running


@contextlib.asynccontextmanager
async def served_over_http(app: FastAPI) -> AsyncIterator[str]:
    """A started app served over real HTTP on 127.0.0.1; yields its URL."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving


@pytest.fixture(scope="session")
async def live_url(app: FastAPI) -> AsyncIterator[str]:
    """The app served over real HTTP on 127.0.0.1, for what the in-process transport cannot do
    (responses that never end, like the event stream)."""
    async with served_over_http(app) as url:
        yield url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The chaos tests last: they take minutes, and the rest of the suite answers sooner without them
    ahead (they also leave a busy workspace behind, which tests that look across workspaces need not see)."""
    items.sort(key=lambda item: item.get_closest_marker("chaos") is not None)


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """The service in a process of its own (`helpdesk serve`) on the test database, logging to a file
    (the fuzzer's malformed requests make uvicorn warn at every turn)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HELPDESK_DATA_DIR": str(tmp_path),
        "HELPDESK_SECRET_KEY": "test-secret-key",
        "HELPDESK_WORKER_IN_API": "false",
        "HELPDESK_LOG_LEVEL": "warning",
        **GENEROUS_RATE_LIMITS,
    }
    command = [sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", str(port)]
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=output)  # noqa: S603 - our own command line
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError(f"the server did not start within 60 s: {log.read_text(errors='replace')}")
        yield Server(url, log)
    finally:
        process.terminate()
        process.wait(timeout=30)
