"""Every request gets an id and one log line.

The id is the caller's `X-Request-Id` when it is well formed (so that a client's or a proxy's id
follows the request), a new one otherwise; it is echoed on the response and in problem bodies, and
every line logged while the request runs carries it. The request's line says its method, route
template (never the path itself, whose ids and tokens stay out of the logs), status and duration, and
once the caller is known its workspace and credential. The same method, template, status and duration
are counted in the request metrics (app/kit/metrics.py), with the requests in flight.
"""

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.kit import metrics
from app.kit.logs import log_context

HEADER = "X-Request-Id"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")

logger = logging.getLogger("app.requests")


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == b"x-request-id"), b"")
        request_id = given.decode("latin-1")
        if not _WELL_FORMED.fullmatch(request_id):
            request_id = uuid.uuid4().hex
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        metrics.HTTP_REQUESTS_IN_FLIGHT.inc()
        with log_context(request_id=request_id):
            try:
                await self.app(scope, receive, sending)
            finally:
                metrics.HTTP_REQUESTS_IN_FLIGHT.dec()
                duration = time.perf_counter() - started
                # The template without its convertors: `/v1/tickets/{ticket_id}`.
                route = getattr(scope.get("route"), "path_format", None)
                logger.info(
                    "%s %s %d",
                    scope["method"],
                    route or metrics.NO_ROUTE,
                    status,
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(duration * 1000, 1),
                    },
                )
                metrics.HTTP_REQUEST_DURATION.labels(
                    metrics.method_label(scope["method"]), route or metrics.NO_ROUTE, str(status)
                ).observe(duration)
                _observe_pool(scope)


def _observe_pool(scope: Scope) -> None:
    """The pool as each request leaves it, besides at each scrape: with several API processes, the one
    answering a scrape adds up what the others last wrote."""
    database = getattr(scope["app"].state, "db", None)
    if database is not None:
        metrics.observe_pool(database.engine.pool)
