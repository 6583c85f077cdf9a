"""The service's metrics, in Prometheus's text format: each defined here once, and counted where it
happens (a request ends, a delivery's outcome is written, a message is threaded, a job's round ends).
The gauges of the queues, which a worker reads from the database when it is scraped, are the worker's
own (app/worker/metrics.py): an API process does not show them.

Labels name kinds, never ids: a route template, a status, an outcome, a job's name. The number of series
stays the same whatever the traffic, and nothing of a customer's shows in them.

The API processes of `helpdesk serve --workers N` share one port, so a scrape reaches any one of them:
they then run in prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, which `helpdesk serve`
sets), each writing its numbers to files in that directory, and the process that answers a scrape adds
all of them up.
"""

import hmac
import os

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy.pool import Pool, QueuePool

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# Requests' methods as labels: any other a client may send is counted as one.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
# The route label of a request no route matched (a 404, whatever its path).
NO_ROUTE = "(no route)"

HTTP_REQUEST_DURATION = Histogram(
    "helpdesk_http_request_duration_seconds",
    "Requests to the API by method, route template and status, and how long they took to answer",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
HTTP_REQUESTS_IN_FLIGHT = Gauge(
    "helpdesk_http_requests_in_flight",
    "Requests being answered (live event streams included)",
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "helpdesk_db_pool_size",
    "Connections a process's database pool keeps (HELPDESK_DB_POOL_SIZE)",
    multiprocess_mode="livesum",
)
DB_POOL_CHECKED_OUT = Gauge(
    "helpdesk_db_pool_checked_out",
    "Database connections in use; at size plus HELPDESK_DB_MAX_OVERFLOW, callers wait for one",
    multiprocess_mode="livesum",
)
DB_POOL_OVERFLOW = Gauge(
    "helpdesk_db_pool_overflow",
    "Database connections open beyond the pool's size",
    multiprocess_mode="livesum",
)

WEBHOOK_DELIVERIES = Counter(
    "helpdesk_webhook_deliveries",
    "Webhook delivery attempts by outcome: succeeded, retried (failed, tried again later), failed (the "
    "schedule ended), disabled (failed, and the endpoint was disabled)",
    ["outcome"],
)
INBOUND_MESSAGES = Counter(
    "helpdesk_inbound_messages",
    "Channel messages threaded by outcome: processed, ignored, retried (put off), failed (given up)",
    ["outcome"],
)
INBOUND_THREADING_DURATION = Histogram(
    "helpdesk_inbound_threading_duration_seconds",
    "How long threading one channel message took, whatever its outcome",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
REPLIES = Counter(
    "helpdesk_replies",
    "Public replies sent on channels by outcome: sent, suppressed, retried, failed",
    ["outcome"],
)
SLA_ANNOUNCEMENTS = Counter(
    "helpdesk_sla_announcements",
    "SLA warnings and breaches announced, by announcement (warning, breach) and SLA metric",
    ["announcement", "metric"],
)
AUTOMATION_RUNS = Counter(
    "helpdesk_automation_runs", "Times an automation acted on a ticket (its actions applied, or failed)"
)
WORKER_JOB_ROUNDS = Counter(
    "helpdesk_worker_job_rounds",
    "Rounds of each worker job (a service: its runs), whether they did any work or failed",
    ["job"],
)
WORKER_JOB_FAILURES = Counter(
    "helpdesk_worker_job_failures",
    "Rounds of each worker job that failed",
    ["job"],
)


def method_label(method: str) -> str:
    return method if method in METHODS else OTHER_METHOD


def observe_pool(pool: Pool) -> None:
    """The process's database connections as they are now. (SQLAlchemy does not tell how many callers
    wait for a connection: they do while checked out stands at size plus the overflow allowed.)"""
    if isinstance(pool, QueuePool):
        DB_POOL_SIZE.set(pool.size())
        DB_POOL_CHECKED_OUT.set(pool.checkedout())
        DB_POOL_OVERFLOW.set(max(pool.overflow(), 0))


def exposition() -> bytes:
    """Every metric of this process, or of all the API processes in multiprocess mode."""
    if MULTIPROCESS_DIR_ENV in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def process_ended() -> None:
    """In multiprocess mode, the gauges of a process that ends stop counting in the sums."""
    if MULTIPROCESS_DIR_ENV in os.environ:
        multiprocess.mark_process_dead(os.getpid())


def scrape_allowed(authorization: str | None, token: str | None) -> bool:
    """Whether a scrape may read the metrics: always when no token is set, otherwise only with
    `Authorization: Bearer <token>` (compared in constant time)."""
    if token is None:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
