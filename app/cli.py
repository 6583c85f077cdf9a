"""The `helpdesk` command."""

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import click
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession
from uvicorn.main import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from app.config import get_settings
from app.db import (
    create_database,
    direct_database_url,
    migrate,
    resolve_database_url,
    warn_of_server_settings_behind_pooler,
)
from app.errors import NotFound
from app.kit.crypto import key_file_path, load_secret_box
from app.kit.logs import configure_logging
from app.models.enums import Role

T = TypeVar("T")


def _run_in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    settings = get_settings()
    url = resolve_database_url(settings)

    async def run() -> T:
        database = create_database(url, settings)
        try:
            async with database.sessionmaker() as session, session.begin():
                return await work(session)
        finally:
            await database.dispose()

    return asyncio.run(run())


def _print_json(payload: dict[str, Any]) -> None:
    click.echo(json.dumps(payload, indent=2, default=str, ensure_ascii=False))


@click.group()
def main() -> None:
    """Help-desk ticketing service."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="API processes.")
@click.option("--migrate", "apply_migrations", is_flag=True, help="Apply pending migrations first.")
@click.option("--demo", is_flag=True, help="Create a demo workspace and print its key if none exists.")
def serve(host: str, port: int, workers: int, apply_migrations: bool, demo: bool) -> None:
    """Serve the API."""
    settings = get_settings()
    url = resolve_database_url(settings)
    # Made here, once, when the data directory holds no key yet, rather than by every API process.
    load_secret_box(settings)
    if apply_migrations:
        migrate(direct_database_url(settings, url))
    # Shown once the API answers, after the start-up lines of uvicorn (and of an embedded PostgreSQL).
    announce_demo = _DemoAnnouncement(_create_demo_workspace(host, port) if demo else None)
    # uvicorn re-raises the SIGTERM it shut down on; exiting through Python instead of dying of
    # the signal lets the embedded PostgreSQL stop with the last process that uses it.
    signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(128 + signum))
    config = uvicorn.Config(
        "app.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        # The service's own logging: every request's line, with its id, is logged by the app.
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    try:
        if workers > 1:
            with _metrics_shared_by_processes():
                _ProcessesAnnouncingStart(config, [config.bind_socket()], announce_demo).run()
            return
        server = _ServerAnnouncingStart(config, announce_demo)
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
    finally:
        # A key is never lost, even when the server did not start.
        announce_demo()


class _DemoAnnouncement:
    """Prints the demo workspace's key, once; nothing when none was created."""

    def __init__(self, message: str | None) -> None:
        self.message = message

    def __call__(self) -> None:
        if self.message is not None:
            click.echo(self.message)
            self.message = None


class _ServerAnnouncingStart(uvicorn.Server):
    """One API process, which announces once it is serving."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[], None]) -> None:
        super().__init__(config)
        self.announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.announce()


# How long the supervisor waits for its API processes to start before announcing anyway.
PROCESSES_START_SECONDS = 60


class _ProcessesAnnouncingStart(Multiprocess):
    """uvicorn's supervisor of API processes, which announces once they have all started."""

    def __init__(
        self, config: uvicorn.Config, sockets: list[socket.socket], announce: Callable[[], None]
    ) -> None:
        super().__init__(config, sockets)
        self.announce = announce

    def init_processes(self) -> None:
        super().init_processes()
        for process in self.processes:
            process.wait_until_ready(PROCESSES_START_SECONDS, self.should_exit)
        self.announce()


# Read by prometheus-client when it is imported, so set before uvicorn starts the API processes (which
# import the application afresh); app.kit.metrics reads it too.
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def _metrics_shared_by_processes() -> Iterator[None]:
    """The API processes write their metrics to files in one directory, and the one answering a scrape
    adds them all up (prometheus-client's multiprocess mode): PROMETHEUS_MULTIPROC_DIR when set, emptied
    first (an earlier run's numbers must not count), else a directory of this run's own."""
    given = os.environ.get(MULTIPROCESS_DIR_ENV)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        yield
        return
    with tempfile.TemporaryDirectory(prefix="helpdesk-metrics-") as created:
        os.environ[MULTIPROCESS_DIR_ENV] = created
        yield


@main.command()
@click.option("--smtp", is_flag=True, help="Also receive mail by SMTP (HELPDESK_EMAIL_LISTEN_HOST/PORT).")
def worker(smtp: bool) -> None:
    """Run the background worker (webhook deliveries, channel messages and replies, SLA, retention) until
    SIGTERM or Ctrl-C; with HELPDESK_WORKER_METRICS_PORT set, it serves /metrics, /livez and /readyz
    there."""
    # Loaded by the commands that use it, so that the others start without the application.
    from app.attachments.storage import close_storages
    from app.kit.tracing import start_tracing, stop_tracing
    from app.worker.health import WorkerHealth
    from app.worker.metrics import serve_metrics
    from app.worker.runner import Worker

    settings = get_settings()
    if smtp:
        settings = settings.model_copy(update={"email": settings.email.model_copy(update={"listen": True})})
    url = resolve_database_url(settings)
    listen_url = direct_database_url(settings, url)

    async def run() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        database = create_database(url, settings)
        await warn_of_server_settings_behind_pooler(database, settings)
        try:
            health = WorkerHealth(settings.worker)
            work = Worker(database, listen_url, settings, load_secret_box(settings)).run(stopping, health)
            if settings.worker.metrics_port is None:
                await work
            else:
                await asyncio.gather(work, serve_metrics(database, settings, health, stopping))
        finally:
            await close_storages()
            await database.dispose()

    start_tracing(settings.tracing, "helpdesk-worker")
    try:
        asyncio.run(run())
    finally:
        stop_tracing()


@main.command(name="migrate")
def migrate_command() -> None:
    """Apply pending database migrations (on HELPDESK_DATABASE_DIRECT_URL when set)."""
    settings = get_settings()
    migrate(direct_database_url(settings, resolve_database_url(settings)))
    click.echo("database is up to date")


@main.command()
@click.option("--output", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
def openapi(output: str | None) -> None:
    """Print the OpenAPI document the API serves."""
    # Loaded by the commands that use it, so that the others start without the application.
    from app.openapi import render_openapi

    document = render_openapi()
    if output:
        with open(output, "w", encoding="utf-8") as file:
            file.write(document)
    else:
        sys.stdout.write(document)


@main.group()
def workspace() -> None:
    """Manage workspaces (one per business)."""


@workspace.command("create")
@click.option("--name", required=True, help="The business's name.")
def workspace_create(name: str) -> None:
    """Create a workspace; prints its id and an admin API key, shown only this once."""
    # Loaded by the commands that use it, so that the others start without the application.
    from app.workspaces.service import create_workspace

    created = _run_in_transaction(lambda session: create_workspace(session, name))
    _print_json(
        {
            "workspace_id": created.workspace.id,
            "name": created.workspace.name,
            "api_key": created.admin_key.plaintext,
            "api_key_id": created.admin_key.api_key.id,
            "role": created.admin_key.api_key.role,
        }
    )


def _create_demo_workspace(host: str, port: int) -> str | None:
    """What to tell about the Demo workspace when it was just created (None when there was one already)."""
    # Loaded by the commands that use it, so that the others start without the application.
    from app.workspaces import repository
    from app.workspaces.service import create_workspace

    async def create_if_none(session: AsyncSession):
        if await repository.any_workspace_exists(session):
            return None
        return await create_workspace(session, "Demo")

    created = _run_in_transaction(create_if_none)
    if created is None:
        return None
    reachable_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - compared, not bound
    return (
        "\nCreated the Demo workspace. Its admin API key is shown only this once:\n\n"
        f"    {created.admin_key.plaintext}\n\n"
        f"Try:  curl -H 'Authorization: Bearer <key>' http://{reachable_host}:{port}/v1/tickets\n"
    )


@main.group(name="api-key")
def api_key() -> None:
    """Manage API keys."""


@api_key.command("create")
@click.option("--workspace", "workspace_id", required=True, type=click.UUID)
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option("--name", default="CLI key", show_default=True)
def api_key_create(workspace_id: UUID, role: str, name: str) -> None:
    """Create an API key; the key is printed only this once."""
    # Loaded by the commands that use it, so that the others start without the application.
    from app.auth.service import issue_api_key
    from app.workspaces import repository

    async def create(session: AsyncSession):
        if await repository.get_workspace(session, workspace_id) is None:
            raise click.ClickException("no such workspace")
        return await issue_api_key(session, workspace_id, name, Role(role))

    issued = _run_in_transaction(create)
    _print_json(
        {"api_key": issued.plaintext, "id": issued.api_key.id, "prefix": issued.api_key.prefix, "role": role}
    )


@api_key.command("revoke")
@click.option("--workspace", "workspace_id", required=True, type=click.UUID)
@click.argument("key_id", type=click.UUID)
def api_key_revoke(workspace_id: UUID, key_id: UUID) -> None:
    """Revoke an API key by its id."""
    # Loaded by the commands that use it, so that the others start without the application.
    from app.auth.service import revoke_api_key

    async def revoke(session: AsyncSession):
        try:
            return await revoke_api_key(session, workspace_id, key_id)
        except NotFound as exc:
            raise click.ClickException("no such API key in that workspace") from exc

    revoked = _run_in_transaction(revoke)
    _print_json({"id": revoked.id, "revoked_at": revoked.revoked_at})


@main.group(name="secrets")
def secrets_group() -> None:
    """Manage the keys that encrypt secrets at rest (HELPDESK_SECRET_KEY)."""


@secrets_group.command("rotate")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10_000))
def secrets_rotate(batch_size: int) -> None:
    """Re-encrypt every secret at rest under the newest key of HELPDESK_SECRET_KEY (the first listed).
    Prints how many values of each column it re-encrypted; exits non-zero when some no key decrypts."""
    # Loaded by the commands that use it, so that the others start without the application.
    from app.encryption.rotation import rotate_secrets

    settings = get_settings()
    if settings.secret_key is None and not key_file_path(settings).exists():
        raise click.ClickException(
            "no key: set HELPDESK_SECRET_KEY, or HELPDESK_DATA_DIR to the keys' directory"
        )
    url = resolve_database_url(settings)

    async def run():
        database = create_database(url, settings)
        try:
            return await rotate_secrets(database, load_secret_box(settings), batch_size)
        finally:
            await database.dispose()

    report = asyncio.run(run())
    _print_json({"re_encrypted": report.re_encrypted, "unreadable": report.unreadable})
    if any(report.unreadable.values()):
        raise click.ClickException(
            "some secrets are encrypted under no key of HELPDESK_SECRET_KEY and were left as they were"
        )


@main.group()
def demo() -> None:
    """Demo data."""


@demo.command("load")
@click.option("--tickets", required=True, type=click.IntRange(1, 100_000_000), help="Tickets in all.")
@click.option("--workspaces", default=1, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--comments-per-ticket", default=3.0, show_default=True, type=click.FloatRange(0, 30), help="On average."
)
@click.option("--seed", default=1, show_default=True, type=int, help="The same seed, the same data.")
@click.option(
    "--connections",
    default=2,
    show_default=True,
    type=click.IntRange(1, 16),
    help="Workspaces written at once, each on a connection of its own.",
)
def demo_load(tickets: int, workspaces: int, comments_per_ticket: float, seed: int, connections: int) -> None:
    """Fill workspaces with realistic tickets, comments and contacts (Vietnamese and English), fast.
    Interrupted, the same command goes on where it stopped; prints JSON with the workspaces (and the
    admin key of those it created, shown once) and the load's rate."""
    # Loaded by the commands that use it, so that the others start without the application.
    from app.demo.loader import Loader, LoadRefused, LoadRequest, provision_workspace

    settings = get_settings()
    url = direct_database_url(settings, resolve_database_url(settings))
    request = LoadRequest(tickets, workspaces, comments_per_ticket, seed)

    async def run():
        database = create_database(url, settings)

        async def provision(position: int):
            async with database.sessionmaker() as session, session.begin():
                return await provision_workspace(session, request, position)

        try:
            async with contextlib.AsyncExitStack() as stack:
                raws = []
                for _ in range(min(connections, workspaces)):
                    connection = await stack.enter_async_context(database.engine.connect())
                    raw = (await connection.get_raw_connection()).driver_connection
                    # A batch's COPY, and what is built and checked at the end, may outlast the
                    # service's statement timeout.
                    await raw.execute("SET statement_timeout = 0")
                    raws.append(raw)
                loader = Loader(raws[0], provision, request, writers=raws[1:])
                references = await loader.prepare()
                remaining = loader.remaining(references)
                with click.progressbar(length=remaining, label="Loading tickets", file=sys.stderr) as bar:
                    loader.progress = bar.update
                    return await loader.load(references)
        finally:
            await database.dispose()

    try:
        report = asyncio.run(run())
    except LoadRefused as exc:
        raise click.ClickException(str(exc)) from None
    _print_json(
        {
            "workspaces": [
                {
                    "workspace_id": loaded.workspace_id,
                    "name": loaded.name,
                    "tickets": loaded.tickets,
                    "contacts": loaded.contacts,
                    **({"api_key": loaded.admin_key} if loaded.admin_key else {}),
                }
                for loaded in report.workspaces
            ],
            "written": {
                "tickets": report.tickets_written,
                "comments": report.comments_written,
                "contacts": report.contacts_written,
            },
            "seconds": round(report.seconds, 2),
            "tickets_per_second": round(report.tickets_written / report.seconds) if report.seconds else None,
            "deferred_indexes_and_foreign_keys": report.deferred,
            "of_which_restoring_seconds": round(report.restore_seconds, 2),
            "vacuum_analyze_seconds": round(report.vacuum_seconds, 2),
        }
    )
