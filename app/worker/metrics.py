"""A worker's /metrics, /livez and /readyz, on a port of its own (HELPDESK_WORKER_METRICS_PORT).

Besides what the worker's jobs count, a scrape reads the queues from the database: how far the fan-out
of events to webhooks and the deliveries lag, and the channel messages waiting to be threaded. Each is
one query bounded by an index; a database that does not answer within the deadline leaves them unknown
(NaN) and the rest is served. /readyz answers 503 when the database is unreachable or not migrated,
when a loop has stalled (`app.worker.health`), or when the outbox lags beyond its bound. The HTTP is
h11's, one request per connection: Prometheus and orchestrators' probes need no more.
"""

import asyncio
import contextlib
import functools
import json
import logging
import math
from datetime import datetime

import h11
from prometheus_client import Gauge

from app.channels.repository import inbound_backlog
from app.config import Settings
from app.db import Database
from app.health.service import unready_reason
from app.kit import metrics
from app.kit.jobs import log_failure
from app.kit.time import utcnow
from app.webhooks.repository import most_overdue_delivery, next_event_to_dispatch
from app.worker.health import WorkerHealth

logger = logging.getLogger(__name__)

# The longest a scrape waits for the database, and for a client's request to arrive.
QUERY_DEADLINE_SECONDS = 2.0
REQUEST_DEADLINE_SECONDS = 5.0
READ_BYTES = 16 * 1024

# Read from the database when the worker is scraped: the last reading is the truth.
OUTBOX_LAG = Gauge(
    "helpdesk_outbox_lag_seconds",
    "Age of the oldest event not yet fanned out to webhooks (0 when none waits)",
    multiprocess_mode="mostrecent",
)
WEBHOOK_DELIVERY_LAG = Gauge(
    "helpdesk_webhook_delivery_lag_seconds",
    "How long the most overdue webhook delivery has been due (0 when none is)",
    multiprocess_mode="mostrecent",
)
INBOUND_QUEUE_DEPTH = Gauge(
    "helpdesk_inbound_queue_depth",
    "Channel messages received and not yet threaded (those put off for a retry included)",
    multiprocess_mode="mostrecent",
)
INBOUND_OLDEST_AGE = Gauge(
    "helpdesk_inbound_oldest_age_seconds",
    "Age of the oldest channel message not yet threaded (0 when none waits)",
    multiprocess_mode="mostrecent",
)
QUEUE_GAUGES = (OUTBOX_LAG, WEBHOOK_DELIVERY_LAG, INBOUND_QUEUE_DEPTH, INBOUND_OLDEST_AGE)


async def serve_metrics(
    db: Database, settings: Settings, health: WorkerHealth, stopping: asyncio.Event
) -> None:
    """Answer on HELPDESK_WORKER_METRICS_HOST:PORT until `stopping` is set."""
    host, port = settings.worker.metrics_host, settings.worker.metrics_port
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    server = await asyncio.start_server(functools.partial(_answer, db, token, health), host=host, port=port)
    logger.info("serving metrics on %s:%s", host, port)
    async with server:
        await stopping.wait()


async def observe_queues(db: Database) -> None:
    """The queues' gauges as the database shows them now."""
    now = utcnow()
    try:
        async with asyncio.timeout(QUERY_DEADLINE_SECONDS), db.sessionmaker() as session:
            next_event = await next_event_to_dispatch(session)
            overdue_since = await most_overdue_delivery(session, now)
            waiting, oldest_waiting = await inbound_backlog(session)
    except Exception:
        log_failure(logger, "reading the queues for the metrics failed")
        for gauge in QUEUE_GAUGES:
            gauge.set(math.nan)
        return
    OUTBOX_LAG.set(_seconds_since(next_event, now))
    WEBHOOK_DELIVERY_LAG.set(_seconds_since(overdue_since, now))
    INBOUND_QUEUE_DEPTH.set(waiting)
    INBOUND_OLDEST_AGE.set(_seconds_since(oldest_waiting, now))


def _seconds_since(moment: datetime | None, now: datetime) -> float:
    return 0.0 if moment is None else max((now - moment).total_seconds(), 0.0)


async def _answer(
    db: Database,
    token: str | None,
    health: WorkerHealth,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    connection = h11.Connection(h11.SERVER)
    try:
        async with asyncio.timeout(REQUEST_DEADLINE_SECONDS):
            request = await _request(connection, reader)
        if request is not None:
            status, headers, body = await _respond(db, token, health, request)
            headers = [*headers, ("content-length", str(len(body))), ("connection", "close")]
            writer.write(connection.send(h11.Response(status_code=status, headers=headers)))
            writer.write(connection.send(h11.Data(data=body)))
            writer.write(connection.send(h11.EndOfMessage()))
            await writer.drain()
    except (TimeoutError, ConnectionError, h11.RemoteProtocolError):
        pass  # a client that sent no request in time, or a malformed one, or left: nothing to answer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _request(connection: h11.Connection, reader: asyncio.StreamReader) -> h11.Request | None:
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await reader.read(READ_BYTES))
        elif isinstance(event, h11.Request):
            return event
        else:  # the client closed the connection
            return None


async def _respond(
    db: Database, token: str | None, health: WorkerHealth, request: h11.Request
) -> tuple[int, list[tuple[str, str]], bytes]:
    path = request.target.split(b"?", 1)[0]
    if path not in (b"/metrics", b"/livez", b"/readyz"):
        return 404, [("content-type", "text/plain")], b"Not found: /metrics, /livez or /readyz\n"
    if request.method != b"GET":
        return 405, [("content-type", "text/plain"), ("allow", "GET")], b"Only GET\n"
    if path == b"/livez":
        return 200, [("content-type", "application/json")], b'{"status":"ok"}'
    if path == b"/readyz":
        reason = await _unready_reason(db, health)
        if reason is None:
            return 200, [("content-type", "application/json")], b'{"status":"ok"}'
        body = json.dumps({"status": "unready", "detail": reason}).encode()
        return 503, [("content-type", "application/json"), ("retry-after", "5")], body
    authorization = next((value for name, value in request.headers if name == b"authorization"), b"")
    if not metrics.scrape_allowed(authorization.decode("latin-1"), token):
        headers = [("content-type", "text/plain"), ("www-authenticate", "Bearer")]
        return 401, headers, b"Scraping the metrics takes Authorization: Bearer <HELPDESK_METRICS_TOKEN>\n"
    await observe_queues(db)
    metrics.observe_pool(db.engine.pool)
    return 200, [("content-type", metrics.CONTENT_TYPE)], metrics.exposition()


async def _unready_reason(db: Database, health: WorkerHealth) -> str | None:
    try:
        async with asyncio.timeout(QUERY_DEADLINE_SECONDS), db.sessionmaker() as session:
            reason = await unready_reason(session)
            if reason is not None:
                return reason
            lag = _seconds_since(await next_event_to_dispatch(session), utcnow())
    except Exception:
        log_failure(logger, "checking readiness failed")
        return f"the database did not answer within {QUERY_DEADLINE_SECONDS:g} s"
    return health.unready_reason(lag)
