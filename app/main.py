import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp

from app.api import contract
from app.api.cors import with_cors
from app.api.problems import install_error_handlers
from app.api.rate_limits import RateLimiter
from app.api.request_log import RequestLog
from app.assembly import assemble
from app.attachments.storage import close_storages
from app.config import Settings, get_settings
from app.db import (
    create_database,
    direct_database_url,
    resolve_database_url,
    warn_of_server_settings_behind_pooler,
)
from app.events.notifier import EventNotifier
from app.kit import metrics
from app.kit.crypto import load_secret_box
from app.kit.signals import on_exit_signals
from app.kit.tracing import TracedRequests, start_tracing, stop_tracing, tracing_on
from app.routers import DOMAIN_ROUTERS, ROUTERS
from app.webhooks.catalogue import webhooks
from app.worker.runner import Worker

DESCRIPTION = """
Help-desk tickets for businesses that talk to customers on web chat, email, Facebook Messenger,
Zalo and the phone. Authenticate with `Authorization: Bearer <API key or agent token>`.
Errors are `application/problem+json`; lists are cursor-paginated; POST accepts `Idempotency-Key`;
reads carry an `ETag`, and PATCH and DELETE honour `If-Match`. Each operation names the API-key
scope it needs (its `security`) and, for agents with a custom role, the permission (`x-permission`).
Answers carry `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`; a request over its
limits is a 429 with `Retry-After`.
"""


def _operation_id(route: APIRoute) -> str:
    return route.name


class HelpdeskAPI(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Outermost, so that an error answered by the error middleware (a 500) also carries the request's
        # id, in its header and its body, and is logged; CORS next, so that such an error reaches the page.
        # Tracing's span around even that, so that the request's log line carries its trace's id.
        settings: Settings = self.state.settings
        logged = RequestLog(with_cors(super().build_middleware_stack(), settings.cors))
        return TracedRequests(logged) if tracing_on() else logged


@asynccontextmanager
async def _worker_in_process(
    app: FastAPI, listen_url: str, settings: Settings, embedded: bool
) -> AsyncIterator[None]:
    """The worker inside the API process: the default on the embedded database, a setting elsewhere."""
    mode = settings.worker.in_api
    if mode == "false" or (mode == "auto" and not embedded):
        yield
        return
    stopping = asyncio.Event()
    task = asyncio.create_task(Worker(app.state.db, listen_url, settings, app.state.secret_box).run(stopping))
    try:
        yield
    finally:
        stopping.set()
        await task


def create_app(settings: Settings | None = None, database_url: str | None = None) -> FastAPI:
    settings = settings or get_settings()
    assemble()
    start_tracing(settings.tracing, "helpdesk-api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url or resolve_database_url(settings)
        listen_url = direct_database_url(settings, url)
        app.state.secret_box = load_secret_box(settings)
        app.state.db = create_database(url, settings)
        await warn_of_server_settings_behind_pooler(app.state.db, settings)
        app.state.notifier = EventNotifier(listen_url)
        embedded = database_url is None and not settings.database_url
        try:
            async with _worker_in_process(app, listen_url, settings, embedded):
                try:
                    with on_exit_signals(app.state.notifier.end_streams):
                        yield
                finally:
                    await app.state.notifier.close()
                    await app.state.db.dispose()
                    metrics.process_ended()
        finally:
            # After the worker inside, which reads and deletes files too.
            await close_storages()
            # Last, with the spans of all the above.
            stop_tracing()

    app = HelpdeskAPI(
        title="Helpdesk API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        # FastAPI's own spans record request paths (with their ids) and query strings: the service makes
        # its own (app/kit/tracing.py), and its metrics and logs are its own too.
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    app.state.settings = settings
    app.state.rate_limiter = RateLimiter(settings.rate_limit) if settings.rate_limit.enabled else None
    app.state.api_routes = [route for router in DOMAIN_ROUTERS for route in router.routes]
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.webhooks.include_router(webhooks)
    contract.install(app)
    logging.getLogger("app").setLevel(settings.log_level.upper())
    return app
